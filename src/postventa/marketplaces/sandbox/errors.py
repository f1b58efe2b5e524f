"""The refusals the sandbox answers with, in the marketplace's error shape.

MarketplaceError
 ├── BadRequest (400)          malformed body, invalid text, template or file
 ├── InvalidGrant (400)        a refresh token that is unknown or already used
 ├── Unauthorized (401)        missing, unknown or expired access token
 │    └── TokenRefused         a valid token refused early by an injected fault
 ├── InvalidClient (401)       wrong application id or secret
 ├── Forbidden (403)           cap used up, blocked conversation, no access
 ├── NotFound (404)            unknown option, message or pack
 ├── Unprocessable (422)       unknown attachment id
 └── TooManyRequests (429)     the application's rate limit, with Retry-After
"""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException

log = structlog.get_logger(__name__)
JSON = "application/json"


class MarketplaceError(Exception):
    """A refusal with its HTTP status, error code and one sentence."""

    status = 500
    error = "internal_server_error"

    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if error is not None:
            self.error = error

    @property
    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(MarketplaceError):
    status = 400
    error = "bad_request"


class InvalidGrant(MarketplaceError):
    status = 400
    error = "invalid_grant"


class Unauthorized(MarketplaceError):
    status = 401
    error = "unauthorized"


class TokenRefused(Unauthorized):
    """Answered like any expired token; ``kind`` names the fault for the counters."""

    def __init__(self, kind: str) -> None:
        super().__init__("Invalid or expired access token.", "invalid_token")
        self.kind = kind


class InvalidClient(MarketplaceError):
    status = 401
    error = "invalid_client"


class Forbidden(MarketplaceError):
    status = 403
    error = "forbidden"


class NotFound(MarketplaceError):
    status = 404
    error = "not_found"


class Unprocessable(MarketplaceError):
    status = 422
    error = "unprocessable_entity"


class TooManyRequests(MarketplaceError):
    status = 429
    error = "too_many_requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many requests for this application; retry later.")
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"retry-after": str(self.retry_after)}


def error_body(status: int, error: str, message: str) -> bytes:
    """The marketplace's error document."""
    return msgspec.json.encode(
        {"message": message, "error": error, "status": status, "cause": []}
    )


def render_refusal(
    _request: Request[Any, Any, Any], exc: MarketplaceError
) -> Response[bytes]:
    return Response(
        error_body(exc.status, exc.error, exc.message),
        status_code=exc.status,
        media_type=JSON,
        headers=exc.headers,
    )


def render_http_error(
    _request: Request[Any, Any, Any], exc: HTTPException
) -> Response[bytes]:
    """Framework errors (unknown route, wrong method, body too large)."""
    error = "not_found" if exc.status_code == 404 else "bad_request"
    return Response(
        error_body(exc.status_code, error, str(exc.detail)),
        status_code=exc.status_code,
        media_type=JSON,
        headers=exc.headers or {},
    )


def render_fault(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """A bug in the sandbox: a 500, logged with its traceback."""
    log.error("sandbox.request_failed", path=request.url.path, exc_info=exc)
    return Response(
        error_body(500, "internal_server_error", "Internal server error."),
        status_code=500,
        media_type=JSON,
    )
