"""Write docs/reference.md from the API's OpenAPI document.

    .venv/bin/python scripts/api_reference.py          # rewrite docs/reference.md
    .venv/bin/python scripts/api_reference.py --check  # exit 1 when it is stale

Each path and method with its parameters, request bodies and responses, then
the schemas they name. tests/unit/test_api_reference.py fails when the
committed file differs from what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from postventa.api.openapi import openapi_document

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference.md"
METHODS = ("get", "post", "put", "patch", "delete")
INTRO = """# API reference

Generated from the OpenAPI document (`postventa.api.openapi.openapi_document()`,
served at `/openapi.json`) by `scripts/api_reference.py`; do not edit it by
hand, run the script. [api.md](api.md) explains the checks and the decisions
behind them; [quickstart.md](quickstart.md) shows the calls.
"""


def cell(text: object) -> str:
    """Text made safe for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def type_of(schema: dict[str, Any] | None) -> str:
    """A short reading of a schema: its type, links and constraints."""
    if not schema:
        return "any"
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "oneOf" in schema:
        return " or ".join(type_of(option) for option in schema["oneOf"])
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    kind = schema.get("type", "any")
    text = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if kind == "array":
        text = f"array of {type_of(schema.get('items'))}"
    if "properties" in schema:
        fields = (f"`{k}`: {type_of(v)}" for k, v in schema["properties"].items())
        text += " {" + ", ".join(fields) + "}"
    return text + _constraints(schema)


def _constraints(schema: dict[str, Any]) -> str:
    labels = {
        "format": "format",
        "pattern": "matching",
        "minimum": "at least",
        "maximum": "at most",
        "minLength": "length at least",
        "maxLength": "length at most",
    }
    found = [
        f"{label} `{schema[key]}`" for key, label in labels.items() if key in schema
    ]
    return f" ({', '.join(found)})" if found else ""


def table(header: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return [*lines, ""]


def parameters(operation: dict[str, Any]) -> list[str]:
    rows = [
        [
            f"`{p['name']}`",
            p["in"],
            "yes" if p.get("required") else "no",
            type_of(p.get("schema")),
            p.get("description") or p.get("schema", {}).get("description", ""),
        ]
        for p in operation.get("parameters", [])
    ]
    if not rows:
        return []
    return [
        "### Parameters",
        "",
        *table(("name", "in", "required", "type", "description"), rows),
    ]


def request_body(operation: dict[str, Any]) -> list[str]:
    body = operation.get("requestBody")
    if body is None:
        return []
    required = "Required." if body.get("required") else "Optional."
    lines = ["### Request body", "", f"{required} One of these media types:", ""]
    for media_type, content in body["content"].items():
        schema = content.get("schema", {})
        rows = [
            [f"`{name}`", type_of(field), field.get("description", "")]
            for name, field in schema.get("properties", {}).items()
        ]
        lines += [
            f"`{media_type}`:",
            "",
            *table(("field", "type", "description"), rows),
        ]
    return lines


def responses(operation: dict[str, Any]) -> list[str]:
    rows = []
    for status, answer in operation.get("responses", {}).items():
        bodies = [
            f"`{media_type}`: {type_of(content.get('schema'))}"
            for media_type, content in answer.get("content", {}).items()
        ]
        headers = ", ".join(f"`{name}`" for name in answer.get("headers", {}))
        rows.append([status, answer["description"], "; ".join(bodies), headers])
    return [
        "### Responses",
        "",
        *table(("status", "description", "body", "headers"), rows),
    ]


def operation_section(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    lines = [f"## {method.upper()} {path}", ""]
    lines += [f"`{operation['operationId']}`: {operation.get('summary', '')}.", ""]
    if "description" in operation:
        lines += [operation["description"], ""]
    return (
        lines + parameters(operation) + request_body(operation) + responses(operation)
    )


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, item[method])
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    ]


def schema_section(name: str, schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    rows = [
        [f"`{field}`", type_of(spec), "yes" if field in required else "no"]
        for field, spec in schema.get("properties", {}).items()
    ]
    return [f"### {name}", "", *table(("field", "type", "required"), rows)]


def render(document: dict[str, Any]) -> str:
    """The whole reference, as Markdown."""
    found = operations(document)
    lines = [INTRO, "## Operations", ""]
    lines += table(
        ("method", "path", "summary"),
        [[m.upper(), f"`{p}`", op.get("summary", "")] for p, m, op in found],
    )
    for path, method, operation in found:
        lines += operation_section(path, method, operation)
    lines += ["## Schemas", ""]
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        lines += schema_section(name, schema)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(arguments: list[str]) -> int:
    text = render(openapi_document())
    if "--check" in arguments:
        stale = not REFERENCE.exists() or REFERENCE.read_text("utf-8") != text
        if stale:
            print(
                f"{REFERENCE} is stale: run scripts/api_reference.py", file=sys.stderr
            )
        return 1 if stale else 0
    REFERENCE.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
