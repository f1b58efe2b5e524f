"""Who may use the console: sign-in with throttling, sessions, and CSRF tokens.

Sessions live server-side, in the ``console_sessions`` table: the cookie holds
a random id, the table its SHA-256 (so a copy of the database opens no session)
with the operator's name, a CSRF token and when it was last used. A session
idle for longer than the setting ends; signing out deletes its row. Every POST
must carry the session's CSRF token, in the ``X-CSRF-Token`` header (htmx) or
the ``csrf_token`` form field; the sign-in form, which has no session yet,
carries a token that must match a short-lived cookie (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from anyio import to_thread
from litestar import Request
from litestar.datastructures import Cookie

from postventa.api.body import media_type
from postventa.api.ratelimit import RateLimiter
from postventa.config import Settings
from postventa.console.passwords import DUMMY_HASH, verify_password
from postventa.domain.errors import Forbidden, TooManyRequests
from postventa.domain.operators import ConsoleSession
from postventa.store.database import Database

log = structlog.get_logger(__name__)
AnyRequest = Request[Any, Any, Any]

PATH = "/console"
SESSION_COOKIE = "postventa_console"
LOGIN_COOKIE = "postventa_console_login"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
LOGIN_TOKEN_SECONDS = 3600
# A session's last use is written at most this often, not on every page.
TOUCH_INTERVAL = timedelta(seconds=60)
CSRF_REFUSAL = (
    "The form's security token is missing or wrong; reload the page and try again."
)


class LoginRequired(Exception):
    """No valid session: the browser is sent to the sign-in page."""


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def check_token(expected: str, presented: str | None) -> None:
    """Refuse (403) a missing or wrong CSRF token."""
    if not presented or not hmac.compare_digest(
        expected.encode(), presented.encode("utf-8", "replace")
    ):
        raise Forbidden(CSRF_REFUSAL)


async def check_form_token(request: AnyRequest, expected: str) -> None:
    """Check the token of a POST: its header, else its URL-encoded form field."""
    presented = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type")
    if presented is None and media_type(content_type) == (
        "application/x-www-form-urlencoded"
    ):
        form = await request.form()
        field = form.get(CSRF_FIELD)
        presented = field if isinstance(field, str) else None
    check_token(expected, presented)


def is_secure(request: AnyRequest, settings: Settings) -> bool:
    return settings.console_secure_cookie or request.url.scheme == "https"


def cookie(name: str, value: str, secure: bool, max_age: int | None = None) -> Cookie:
    """A cookie for the console's pages only, out of reach of scripts."""
    return Cookie(
        key=name,
        value=value,
        path=PATH,
        httponly=True,
        samesite="lax",
        secure=secure,
        max_age=max_age,
    )


def expired(name: str, secure: bool) -> Cookie:
    return cookie(name, "", secure, max_age=0)


@dataclass(frozen=True, slots=True)
class Sessions:
    """Sessions in the store, ended after ``idle`` without use."""

    database: Database
    idle: timedelta

    async def start(self, operator: str) -> tuple[str, ConsoleSession]:
        """A new session; returns the id for the cookie, which is kept nowhere."""
        session_id = new_token()
        now = datetime.now(UTC)
        session = ConsoleSession(_digest(session_id), operator, new_token(), now, now)

        def job(repos: Any) -> None:
            repos.operators.end_idle_sessions(now - self.idle)
            repos.operators.start_session(session)

        await self.database.write(job)
        return session_id, session

    async def find(self, session_id: str | None) -> ConsoleSession | None:
        """The live session of a cookie, or None; its use is recorded."""
        if not session_id:
            return None
        digest = _digest(session_id)
        session = await self.database.read(
            lambda repos: repos.operators.session(digest)
        )
        now = datetime.now(UTC)
        if session is None or session.last_seen_at < now - self.idle:
            return None
        if session.last_seen_at < now - TOUCH_INTERVAL:
            await self.database.write(
                lambda repos: repos.operators.touch_session(digest, now)
            )
        return session

    async def end(self, session_id: str | None) -> None:
        if session_id:
            digest = _digest(session_id)
            await self.database.write(lambda repos: repos.operators.end_session(digest))

    async def require(self, request: AnyRequest) -> ConsoleSession:
        """The request's session, or ``LoginRequired``."""
        session = await self.find(request.cookies.get(SESSION_COOKIE))
        if session is None:
            raise LoginRequired()
        request.state.console_session = session
        return session


class SignIn:
    """Checks usernames and passwords, at most so many attempts a minute per
    client address (each attempt costs a deliberately slow hash)."""

    def __init__(
        self, database: Database, settings: Settings, limiter: RateLimiter
    ) -> None:
        self._database = database
        self._configured = (settings.console_username, settings.console_password_hash)
        # Shared through Redis when it is set, like the API's limits, so that
        # several processes allow one address a single allowance.
        self._limiter = limiter

    async def admit(self, address: str) -> None:
        """Count an attempt from the address; refuse (429) past the limit."""
        decision = await self._limiter.take(address)
        if not decision.allowed:
            log.warning("console.login_throttled", client=address)
            raise TooManyRequests(
                "Too many sign-in attempts from your address; wait a minute and "
                "try again.",
                decision.retry_after,
            )

    async def check(self, username: str, password: str) -> bool:
        """Whether the password is the operator's; the configured one comes first."""
        stored = await self._stored_hash(username.strip())
        matched = await to_thread.run_sync(
            verify_password, password, stored or DUMMY_HASH
        )
        return matched and stored is not None

    async def _stored_hash(self, username: str) -> str | None:
        name, password_hash = self._configured
        if name and hmac.compare_digest(
            name.encode(), username.encode("utf-8", "replace")
        ):
            return password_hash
        operator = await self._database.read(
            lambda repos: repos.operators.get(username)
        )
        return operator.password_hash if operator else None
