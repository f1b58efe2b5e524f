"""Every error answer of the API, rendered in one place."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException

from postventa.domain.errors import PostventaError, TooManyRequests

log = structlog.get_logger(__name__)
JSON = "application/json"


def error_body(status: int, message: str) -> bytes:
    return msgspec.json.encode({"Status": status, "Message": message})


def rate_headers(request: Request[Any, Any, Any]) -> dict[str, str]:
    headers: dict[str, str] = getattr(request.state, "rate_headers", None) or {}
    return dict(headers)


def render_refusal(
    request: Request[Any, Any, Any], exc: PostventaError
) -> Response[bytes]:
    headers = rate_headers(request)
    if isinstance(exc, TooManyRequests):
        headers.setdefault("retry-after", str(max(1, int(exc.retry_after + 0.999))))
    log.info("request.refused", status=exc.status, reason=exc.message)
    return Response(
        error_body(exc.status, exc.message),
        status_code=exc.status,
        media_type=JSON,
        headers=headers,
    )


def render_http_error(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[bytes]:
    """Framework errors (unknown route, wrong method) in the same shape."""
    return Response(
        error_body(exc.status_code, str(exc.detail)),
        status_code=exc.status_code,
        media_type=JSON,
        headers={**rate_headers(request), **(exc.headers or {})},
    )


def render_fault(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """An unexpected fault: a 500 whose reference id the log line carries."""
    reference = uuid.uuid4().hex[:16]
    log.error(
        "request.failed", reference=reference, path=request.url.path, exc_info=exc
    )
    return Response(
        msgspec.json.encode(f"Internal server error; reference {reference}."),
        status_code=500,
        media_type=JSON,
        headers=rate_headers(request),
    )
