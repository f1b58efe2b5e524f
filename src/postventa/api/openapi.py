"""The OpenAPI document of the API, written to say exactly what it does."""

from __future__ import annotations

from typing import Any

from postventa import __version__
from postventa.api.openapi_reads import (
    conversation_get,
    operation_paths,
    read_paths,
    read_schemas,
)
from postventa.domain.options import MessageOption

_ERROR = {"$ref": "#/components/schemas/Error"}
_RATE_HEADERS = {
    "x-ratelimit-limit": ("Requests allowed a minute for this key.", "integer"),
    "x-ratelimit-remaining": ("Requests left in the current window.", "integer"),
    "x-ratelimit-reset": ("Seconds until the window is full again.", "integer"),
    "x-ratelimit-retryafter": ("Seconds to wait; -1 when allowed.", "integer"),
}


def _headers(*extra: str) -> dict[str, Any]:
    """The key's rate headers, which every answer past the key carries; a 429
    for unknown keys has no key to count, so there they are optional."""
    known_key = "retry-after" not in extra
    headers = {
        name: {"description": text, "required": known_key, "schema": {"type": kind}}
        for name, (text, kind) in _RATE_HEADERS.items()
    }
    if "retry-after" in extra:
        headers["Retry-After"] = {
            "description": "Whole seconds to wait before retrying.",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    if "location" in extra:
        headers["Location"] = {
            "description": "The new message: /v2/orders/{orderId}/messages/{id}.",
            "required": True,
            "schema": {
                "type": "string",
                "pattern": "^/v2/orders/[0-9]+/messages/[0-9]+$",
            },
        }
    return headers


def _error(description: str, *extra: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": _headers(*extra),
        "content": {"application/json": {"schema": _ERROR}},
    }


def _query(name: str, schema: dict[str, Any], text: str, required: bool = False) -> Any:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": text,
        "schema": schema,
    }


_OPTION = {
    "oneOf": [
        {"type": "integer", "minimum": 1, "maximum": 5},
        {
            "type": "string",
            "description": "An id as digits, or a name in any case.",
            "pattern": "^([1-5]|(?i:" + "|".join(o.name for o in MessageOption) + "))$",
        },
    ],
    "description": ", ".join(f"{o.value} = {o.name}" for o in MessageOption),
}
_FIELDS: dict[str, Any] = {
    "message": {
        "type": "string",
        "description": "Free text (1 to 350 characters, ISO-8859-1); ignored "
        "by template options 1 and 2.",
    },
    "messageOptions": _OPTION,
    "fileBase64": {"type": "string", "description": "A base64 document."},
    "documentName": {"type": "string", "maxLength": 200},
    "documentExtension": {
        "type": "string",
        "enum": ["pdf", "jpg", "jpeg", "png", "txt"],
    },
}
_MULTIPART_FIELDS = {
    **{k: v for k, v in _FIELDS.items() if k != "messageOptions"},
    "messageOptions": {"type": "string", "description": _OPTION["description"]},
    "file": {"type": "string", "format": "binary"},
}


def _send_operation() -> dict[str, Any]:
    text_schema = {"type": "string"}
    return {
        "operationId": "sendMessage",
        "summary": "Send a message to the buyer of an order",
        "description": (
            "Checks the request in this order: API_KEY (401), accountId (400), "
            "account (403), rate (429), body size (413), orderId (400), order "
            "(404), parameters (400), duplicate or Idempotency-Key conflict "
            "(409), the option table and conversation rules (412). Parameter "
            "names match in any case; a parameter given twice with different "
            "values is a 400 (a 401 for API_KEY). One attachment at most: a "
            "multipart part named file, or fileBase64 with documentName and "
            "documentExtension (pdf, jpg, jpeg, png, txt; 1 byte to 25 MiB)."
        ),
        "parameters": [
            {
                "name": "orderId",
                "in": "path",
                "required": True,
                "description": "The order's id in postventa (not the marketplace's).",
                "schema": {"type": "string", "pattern": "^[+-]?[0-9]+$"},
            },
            _query("API_KEY", text_schema, "The API key (also api_key).", True),
            _query(
                "accountId",
                {"type": "string", "pattern": "^[+-]?[0-9]+$"},
                "The account the order belongs to.",
                True,
            ),
            _query(
                "orderId",
                {"type": "string", "pattern": "^[+-]?[0-9]+$"},
                "Optional; must then equal the path's.",
            ),
            _query("message", text_schema, _FIELDS["message"]["description"]),
            _query(
                "messageOptions",
                _OPTION,
                "The message's reason; required here or in the body.",
            ),
            _query("documentName", text_schema, "With fileBase64 in the body."),
            _query("documentExtension", text_schema, "With fileBase64 in the body."),
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Up to 255 printable characters, scoped to the "
                "account; repeats with the same payload get the first answer again.",
                "schema": {
                    "type": "string",
                    "maxLength": 255,
                    "pattern": "^[!-~]([ -~]*[!-~])?$",
                },
            },
        ],
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": _FIELDS}
                },
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {**_FIELDS, "messageOptions": text_schema},
                    }
                },
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": _MULTIPART_FIELDS}
                },
            },
        },
        "responses": {
            "200": {
                "description": "Accepted and stored durably; the body is the new "
                "message's id as a JSON string.",
                "headers": _headers("location"),
                "content": {"application/json": {"schema": {"type": "string"}}},
            },
            "400": _error("A parameter is missing or invalid."),
            "401": {
                "description": "API_KEY missing, unknown, or given twice differently.",
                "content": {"application/json": {"schema": _ERROR}},
            },
            "403": _error("The account is not linked to this key, or is disabled."),
            "404": _error("No such order in this account."),
            "409": _error(
                "A duplicate of a message awaiting the buyer's reply, "
                "or an Idempotency-Key conflict."
            ),
            "412": _error("The option table or a conversation rule refuses it."),
            "408": _error(
                "The body stopped arriving before its end; the connection is closed."
            ),
            "413": _error("The body exceeds the configured limit."),
            "429": _error(
                "The key's rate, or unknown keys from this address, "
                "exceeded the limit.",
                "retry-after",
            ),
            "500": {
                "description": "An unexpected fault; the string carries a reference "
                "id found in the logs.",
                "content": {"application/json": {"schema": {"type": "string"}}},
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "postventa",
            "version": __version__,
            "description": "Messages to the buyers of marketplace orders.",
        },
        "paths": {
            "/v2/orders/{orderId}/messages": {
                "post": _send_operation(),
                "get": conversation_get(),
            },
            **read_paths(),
            **operation_paths(),
        },
        "components": {
            "schemas": {
                **read_schemas(),
                "Error": {
                    "type": "object",
                    "required": ["Status", "Message"],
                    "properties": {
                        "Status": {"type": "integer"},
                        "Message": {"type": "string"},
                    },
                },
            }
        },
    }
