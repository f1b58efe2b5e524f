"""Every error answer of the API, rendered in one place."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException

from postventa.domain.errors import (
    PayloadTooLarge,
    PostventaError,
    RequestTimeout,
    TooManyRequests,
)

log = structlog.get_logger(__name__)
JSON = "application/json"


def error_body(status: int, message: str) -> bytes:
    return msgspec.json.encode({"Status": status, "Message": message})


def rate_headers(request: Request[Any, Any, Any]) -> dict[str, str]:
    headers: dict[str, str] = getattr(request.state, "rate_headers", None) or {}
    return dict(headers)


def refusal_headers(exc: PostventaError, rate: dict[str, str]) -> dict[str, str]:
    """The headers of a refusal: the rate's, and what the refusal adds."""
    headers = dict(rate)
    if isinstance(exc, TooManyRequests):
        headers.setdefault("retry-after", str(max(1, int(exc.retry_after + 0.999))))
    if isinstance(exc, PayloadTooLarge | RequestTimeout):
        # Otherwise the server keeps the connection and reads the rest of the
        # body, however long, only to discard it.
        headers["connection"] = "close"
    log.info("request.refused", status=exc.status, reason=exc.message)
    return headers


def render_refusal(
    request: Request[Any, Any, Any], exc: PostventaError
) -> Response[bytes]:
    return Response(
        error_body(exc.status, exc.message),
        status_code=exc.status,
        media_type=JSON,
        headers=refusal_headers(exc, rate_headers(request)),
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


def fault_body(path: str, exc: Exception) -> bytes:
    """Log an unexpected fault; the 500's body carries the log line's reference."""
    reference = uuid.uuid4().hex[:16]
    log.error("request.failed", reference=reference, path=path, exc_info=exc)
    return msgspec.json.encode(f"Internal server error; reference {reference}.")


def render_fault(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """An unexpected fault: a 500 whose reference id the log line carries."""
    return Response(
        fault_body(request.url.path, exc),
        status_code=500,
        media_type=JSON,
        headers=rate_headers(request),
    )
