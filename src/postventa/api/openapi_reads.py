"""The OpenAPI description of the read endpoints and the notification route."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_INTEGER_TEXT = {"type": "string", "pattern": "^[+-]?[0-9]+$"}
_COUNT = {"type": "integer", "format": "int64", "minimum": 0}
_INT64 = {"type": "integer", "format": "int64"}
_DATE = (
    "^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    "( ([01][0-9]|2[0-3]):[0-5][0-9])?$"
)
# Up to 64 printable ASCII characters but "/", not starting or ending in space.
_RESOURCE = "^(/messages/)?[!-.0-~]([ -.0-~]{0,62}[!-.0-~])?$"
_PAIR = {
    "type": "object",
    "properties": {"Key": {"type": "integer"}, "Value": {"type": "string"}},
}


def _auth() -> list[dict[str, Any]]:
    return [
        {
            "name": "API_KEY",
            "in": "query",
            "required": True,
            "schema": {"type": "string"},
        },
        {"name": "accountId", "in": "query", "required": True, "schema": _INTEGER_TEXT},
    ]


def _path(*names: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": _INTEGER_TEXT}
        for name in names
    ]


def _rate_headers(required: bool = True) -> dict[str, Any]:
    return {
        name: {"description": text, "required": required, "schema": {"type": "integer"}}
        for name, text in (
            ("x-ratelimit-limit", "Requests allowed a minute for this key."),
            ("x-ratelimit-remaining", "Requests left in the current window."),
            ("x-ratelimit-reset", "Seconds until the window is full again."),
            ("x-ratelimit-retryafter", "Seconds to wait; -1 when allowed."),
        )
    }


def _errors(*statuses: str) -> dict[str, Any]:
    texts = {
        "400": "A malformed parameter.",
        "401": "API_KEY missing or unknown.",
        "403": "The account is not linked to this key, or is disabled.",
        "404": "Not found in this account (or this pack).",
        "429": "The key's rate is exceeded.",
    }
    answers: dict[str, Any] = {
        status: {
            "description": texts[status],
            "headers": {} if status == "401" else _rate_headers(status != "429"),
            "content": {"application/json": {"schema": _ERROR}},
        }
        for status in statuses
    }
    if "429" in answers:
        answers["429"]["headers"]["Retry-After"] = {
            "description": "Whole seconds to wait before retrying.",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    answers["500"] = {
        "description": "An unexpected fault; the string carries a reference id.",
        "content": {"application/json": {"schema": {"type": "string"}}},
    }
    return answers


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "headers": _rate_headers(),
        "content": {"application/json": {"schema": schema}},
    }


def _operation(
    operation_id: str, summary: str, parameters: list[Any], ok: dict[str, Any]
) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "parameters": [*parameters, *_auth()],
            "responses": {"200": ok, **_errors("400", "401", "403", "404", "429")},
        }
    }


def read_paths() -> dict[str, Any]:
    order = {"$ref": "#/components/schemas/Order"}
    message = {"$ref": "#/components/schemas/Message"}
    listing = [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in (
            ("limit", {**_COUNT, "maximum": 1000, "description": "Default 100."}),
            ("offset", {**_COUNT, "description": "Default 0."}),
            ("idFrom", _INT64),
            ("idTo", _INT64),
            ("statusType", _INT64),
            (
                "dateCreatedFrom",
                {
                    "type": "string",
                    "description": "yyyy-mm-dd[ HH:mm], in UTC.",
                    "pattern": _DATE,
                },
            ),
        )
    ]
    paging = {
        "type": "object",
        "properties": {
            "Paging": {
                "type": "object",
                "properties": {
                    k: {"type": "integer"} for k in ("Limit", "Offset", "Total")
                },
            },
            "Total": {"type": "integer"},
            "Results": {"type": "array", "items": order},
        },
    }
    options = {
        "type": "object",
        "properties": {
            "OrderId": {"type": "integer"},
            "Options": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/OptionAvailability"},
            },
        },
    }
    content = {
        "description": "The attachment's content, with its media type.",
        "headers": _rate_headers(),
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    }
    return {
        "/v2/orders": _operation(
            "listOrders",
            "Orders by id, paged and filtered",
            listing,
            _json("A page.", paging),
        ),
        "/v2/orders/{orderId}": _operation(
            "getOrder", "One order", _path("orderId"), _json("The order.", order)
        ),
        "/v2/orders/{orderId}/messages/options": _operation(
            "listOptions",
            "Which options can be sent now, and why not",
            _path("orderId"),
            _json("One entry per option.", options),
        ),
        "/v2/orders/{orderId}/messages/{messageId}": _operation(
            "getMessage",
            "One message of the order's pack",
            _path("orderId", "messageId"),
            _json("The message.", message),
        ),
        "/v2/orders/{orderId}/messages/{messageId}/attachment": _operation(
            "getAttachment",
            "A message's attachment",
            _path("orderId", "messageId"),
            content,
        ),
    }


def conversation_get() -> dict[str, Any]:
    operation: dict[str, Any] = _operation(
        "listMessages",
        "The pack's conversation, both directions, oldest first",
        _path("orderId"),
        _json(
            "The conversation.",
            {
                "type": "object",
                "properties": {
                    "Total": {"type": "integer"},
                    "Results": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/Message"},
                    },
                },
            },
        ),
    )["get"]
    return operation


def read_schemas() -> dict[str, Any]:
    nullable_text = {"type": ["string", "null"]}
    return {
        "Order": {
            "type": "object",
            "required": ["Id", "IsCancelled"],
            "properties": {
                "Id": {"type": "integer"},
                "ExternalOrderId": nullable_text,
                "PackId": nullable_text,
                "MarketPlace": {"type": ["object", "null"]},
                "Status": {"type": ["object", "null"]},
                "StatusType": {"type": ["object", "null"]},
                "IsCancelled": {"type": "boolean"},
                "DateCreated": nullable_text,
                "Buyer": {"type": ["object", "null"]},
                "Shipping": {"type": "object"},
            },
        },
        "Message": {
            "type": "object",
            "required": ["Id", "OrderId", "PackId", "Direction", "Text", "Status"],
            "properties": {
                "Id": {"type": "integer"},
                "OrderId": {"type": "integer"},
                "PackId": {"type": "string"},
                "Direction": {"enum": ["seller", "buyer"]},
                "Option": {"oneOf": [_PAIR, {"type": "null"}]},
                "Text": {"type": "string"},
                "Attachment": {"type": ["object", "null"]},
                "Status": {
                    "enum": [
                        "queued",
                        "sending",
                        "sent",
                        "moderated",
                        "failed",
                        "received",
                    ]
                },
                "Reason": nullable_text,
                "DateCreated": {"type": "string"},
                "DateSent": nullable_text,
            },
        },
        "OptionAvailability": {
            "type": "object",
            "properties": {
                "Key": {"type": "integer"},
                "Value": {"type": "string"},
                "FreeText": {"type": "boolean"},
                "Allowed": {"type": "boolean"},
                "AttachmentAllowed": {"type": "boolean"},
                "Reason": nullable_text,
            },
        },
    }


def operation_paths() -> dict[str, Any]:
    """The notification route and the operational endpoints."""
    status = {"type": "object", "properties": {"status": {"type": "string"}}}
    received = {
        "type": "object",
        "required": ["Status", "Message"],
        "properties": {
            "Status": {"type": "integer", "const": 200},
            "Message": {"type": "string"},
        },
    }
    return {
        "/notifications/mercadolibre": {
            "post": {
                "operationId": "takeNotification",
                "summary": "A marketplace notification, answered at once",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["topic", "resource", "user_id"],
                                "properties": {
                                    "topic": {"const": "messages"},
                                    "resource": {
                                        "type": "string",
                                        "description": "The message's id, bare "
                                        "or as /messages/<id>.",
                                        "pattern": _RESOURCE,
                                    },
                                    "user_id": {
                                        "description": "The seller's id.",
                                        "oneOf": [
                                            {"type": "integer", "minimum": 0},
                                            {"type": "string", "pattern": "^[0-9]+$"},
                                        ],
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "Received; the message is fetched afterwards.",
                        "content": {"application/json": {"schema": received}},
                    },
                    "400": {
                        "description": "Not a messages notification.",
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                    "503": {
                        "description": "This process delivers to no marketplace.",
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "The process is alive",
                "responses": {
                    "200": {
                        "description": "Alive.",
                        "content": {"application/json": {"schema": status}},
                    }
                },
            }
        },
        "/readyz": {
            "get": {
                "operationId": "ready",
                "summary": "The database answers and its migrations are current",
                "responses": {
                    "200": {
                        "description": "Ready.",
                        "content": {"application/json": {"schema": status}},
                    },
                    "503": {
                        "description": "Not ready.",
                        "content": {"application/json": {"schema": status}},
                    },
                },
            }
        },
    }
