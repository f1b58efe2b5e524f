"""docs/reference.md is generated from the OpenAPI document and kept current."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from postventa.api.openapi import openapi_document

ROOT = Path(__file__).resolve().parents[2]


def reference_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "api_reference", ROOT / "scripts" / "api_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_reference_is_what_the_script_generates() -> None:
    generated = reference_script().render(openapi_document())

    committed = (ROOT / "docs" / "reference.md").read_text("utf-8")

    assert committed == generated, (
        "docs/reference.md is stale: run .venv/bin/python scripts/api_reference.py"
    )


def test_every_operation_of_the_document_has_a_section() -> None:
    document = openapi_document()

    text = reference_script().render(document)

    for path, item in document["paths"].items():
        for method in item:
            assert f"## {method.upper()} {path}\n" in text
    for name in document["components"]["schemas"]:
        assert f"### {name}\n" in text


def test_pipes_in_patterns_do_not_break_the_tables() -> None:
    script = reference_script()

    assert script.cell("a|b\nc") == "a\\|b c"
    assert script.type_of({"type": "string", "pattern": "^(x|y)$"}) == (
        "string (matching `^(x|y)$`)"
    )
