"""Signing in and out of the console."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from postventa.config import Settings
from postventa.console.auth import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    LOGIN_TOKEN_SECONDS,
    SESSION_COOKIE,
    Sessions,
    SignIn,
    check_form_token,
    check_token,
    cookie,
    expired,
    is_secure,
    new_token,
)
from postventa.console.errors import LOGIN, safe_next
from postventa.console.pages import render
from postventa.domain.errors import TooManyRequests

log = structlog.get_logger(__name__)
AnyRequest = Request[Any, Any, Any]
MAX_FIELD = 1024
WRONG = "Wrong username or password."


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def _login_page(
    request: AnyRequest, token: str, target: str, status: int = 200, **context: Any
) -> Template:
    defaults: dict[str, Any] = {"error": None, "username": ""}
    return render(
        request,
        "login.html",
        status,
        login_token=token,
        next=target,
        **{**defaults, **context},
    )


def login_routes(
    settings: Settings, sessions: Sessions, sign_in: SignIn
) -> list[HTTPRouteHandler]:
    """The sign-in page and form, and signing out."""

    @get("/login", name="console:login")
    async def login_page(
        request: AnyRequest, next: FromQuery[str] = ""
    ) -> Response[Any]:
        target = safe_next(next)
        if await sessions.find(request.cookies.get(SESSION_COOKIE)):
            return Redirect(target, status_code=303)
        token = new_token()
        secure = is_secure(request, settings)
        answer = _login_page(request, token, target)
        answer.cookies.append(
            cookie(LOGIN_COOKIE, token, secure, max_age=LOGIN_TOKEN_SECONDS)
        )
        return answer

    @post("/login", name="console:login_form")
    async def login(request: AnyRequest) -> Response[Any]:
        address = request.client.host if request.client else "unknown"
        form = await request.form()
        token = request.cookies.get(LOGIN_COOKIE, "")
        target = safe_next(_field(form, "next"))
        username = _field(form, "username").strip()
        try:
            await sign_in.admit(address)
        except TooManyRequests as exc:
            answer = _login_page(
                request, token, target, 429, error=exc.message, username=username
            )
            answer.headers["retry-after"] = str(max(1, int(exc.retry_after + 0.999)))
            return answer
        check_token(token, _field(form, CSRF_FIELD))

        if not await sign_in.check(username, _field(form, "password")):
            log.info("console.login_refused", username=username[:64], client=address)
            return _login_page(
                request, token, target, 401, error=WRONG, username=username
            )
        session_id, _ = await sessions.start(username)
        log.info("console.login", operator=username, client=address)
        secure = is_secure(request, settings)
        return Redirect(
            target,
            status_code=303,
            cookies=[
                cookie(SESSION_COOKIE, session_id, secure),
                expired(LOGIN_COOKIE, secure),
            ],
        )

    @post("/logout", name="console:logout")
    async def logout(request: AnyRequest) -> Redirect:
        session = await sessions.require(request)
        await check_form_token(request, session.csrf_token)
        await sessions.end(request.cookies.get(SESSION_COOKIE))
        log.info("console.logout", operator=session.operator)
        secure = is_secure(request, settings)
        return Redirect(
            LOGIN, status_code=303, cookies=[expired(SESSION_COOKIE, secure)]
        )

    return [login_page, login, logout]
