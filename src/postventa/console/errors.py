"""The console's refusals and faults, as pages (or, for htmx, as a notice)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandlersMap

from postventa.console.auth import PATH, LoginRequired
from postventa.console.pages import render
from postventa.domain.errors import PostventaError, TooManyRequests

log = structlog.get_logger(__name__)
AnyRequest = Request[Any, Any, Any]
LOGIN = f"{PATH}/login"


def is_htmx(request: AnyRequest) -> bool:
    return request.headers.get("hx-request") == "true"


def safe_next(target: str) -> str:
    """Where to go after signing in: a console path, never another site."""
    inside = target == PATH or target.startswith((f"{PATH}/", f"{PATH}?"))
    if inside and target.isprintable() and "\\" not in target:
        return target
    return f"{PATH}/orders"


def _to_login(request: AnyRequest, _exc: LoginRequired) -> Response[Any]:
    if is_htmx(request):
        return Response(b"", status_code=401, headers={"hx-redirect": LOGIN})
    # After signing in the browser comes back with a GET, so only a page it
    # was getting is worth coming back to.
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    back = safe_next(here) if request.method == "GET" else f"{PATH}/orders"
    return Redirect(f"{LOGIN}?next={quote(back, safe='')}", status_code=303)


def _refusal(
    request: AnyRequest, status: int, message: str, headers: dict[str, str]
) -> Template:
    if is_htmx(request):
        # The notice area of the page shows it, whatever the request targeted.
        headers = {**headers, "hx-retarget": "#notice", "hx-reswap": "innerHTML"}
        name = "_notice.html"
    else:
        name = "error.html"
    return render(request, name, status, headers, status=status, message=message)


def _postventa_error(request: AnyRequest, exc: PostventaError) -> Template:
    headers = {}
    if isinstance(exc, TooManyRequests):
        headers["retry-after"] = str(max(1, int(exc.retry_after + 0.999)))
    log.info("console.refused", status=exc.status, reason=exc.message)
    return _refusal(request, exc.status, exc.message, headers)


def _http_error(request: AnyRequest, exc: HTTPException) -> Template:
    return _refusal(request, exc.status_code, str(exc.detail), {})


def _fault(request: AnyRequest, exc: Exception) -> Template:
    reference = uuid.uuid4().hex[:16]
    log.error(
        "console.failed", reference=reference, path=request.url.path, exc_info=exc
    )
    message = f"Something went wrong on our side; reference {reference}."
    return _refusal(request, 500, message, {})


def exception_handlers() -> ExceptionHandlersMap:
    return {
        LoginRequired: _to_login,
        PostventaError: _postventa_error,
        HTTPException: _http_error,
        Exception: _fault,
    }
