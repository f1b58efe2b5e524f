"""What both clients share: the retry policy, the error mapping, key redaction."""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass
from typing import Any

import httpx

from postventa import __version__
from postventa.client._calls import Call
from postventa.client.errors import (
    BY_STATUS,
    PostventaError,
    RateLimited,
    ServerError,
    TransportError,
)
from postventa.logs import redact_query

log = logging.getLogger("postventa.client")

USER_AGENT = f"postventa-client/{__version__} httpx/{httpx.__version__}"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_REFERENCE = re.compile(r"reference ([0-9A-Za-z]+)")
_RETRYABLE_TRANSPORT = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait before trying a refused call again."""

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_retry_after: float = 60.0

    def delay(self, error: PostventaError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        if attempt >= self.max_retries or not is_retryable(error):
            return None
        told: float | None = getattr(error, "retry_after", None)
        if told is None:
            return self.backoff(attempt)
        # Waiting less than the server asked would only be refused again.
        return told if told <= self.max_retry_after else None

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: between half and all of the step."""
        step = min(self.backoff_cap, self.backoff_base * 2.0**attempt)
        return step / 2 + random.uniform(0, step / 2)


def is_retryable(error: PostventaError) -> bool:
    if isinstance(error, TransportError):
        return error.retryable
    return isinstance(error, RateLimited | ServerError)


class _RedactKeys(logging.Filter):
    """Hides API keys in the request URLs that httpx logs at INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        return True


def _redacted(arg: object) -> object:
    if isinstance(arg, httpx.URL | str) and "api_key=" in str(arg).lower():
        return redact_query(str(arg))
    return arg


_HTTPX_FILTER = _RedactKeys()


def install_log_filter() -> None:
    """Make httpx's request log lines carry ``API_KEY=***``; idempotent."""
    logger = logging.getLogger("httpx")
    if _HTTPX_FILTER not in logger.filters:
        logger.addFilter(_HTTPX_FILTER)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds; an HTTP date is not used, so backoff applies."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_text(response: httpx.Response) -> tuple[str, str | None]:
    """The message of an error body, and the reference of a 500's string body."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()[:300]
        return text or response.reason_phrase, None
    if isinstance(body, dict) and isinstance(body.get("Message"), str):
        return body["Message"], None
    if isinstance(body, str):
        found = _REFERENCE.search(body)
        return body, found.group(1) if found else None
    return response.reason_phrase, None


class BaseClient:
    """The configuration both clients hold; the key stays out of every text."""

    def __init__(
        self, base_url: str, api_key: str, account_id: int, max_retries: int
    ) -> None:
        if not api_key:
            raise ValueError("An API key is required.")
        if max_retries < 0:
            raise ValueError("max_retries must be zero or more.")
        self.base_url = str(base_url).rstrip("/")
        self.account_id = int(account_id)
        self.retry_policy = RetryPolicy(max_retries=max_retries)
        self._api_key = api_key
        install_log_filter()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, "
            f"account_id={self.account_id!r})"
        )

    def _request_args(self, call: Call, files: dict[str, Any] | None) -> Any:
        """The arguments of ``build_request`` for one attempt of ``call``."""
        params = {"API_KEY": self._api_key, "accountId": self.account_id}
        return {
            "method": call.method,
            "url": call.path,
            "params": {**params, **call.params},
            "json": call.json,
            "data": call.data,
            "files": files,
            "headers": call.headers,
        }

    def _redact(self, text: str) -> str:
        return redact_query(text).replace(self._api_key, "***")

    def _error(self, response: httpx.Response) -> PostventaError:
        """The exception for an error answer, with the server's message."""
        status = response.status_code
        message, reference = _error_text(response)
        message = self._redact(message)
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if status == 429:
            return RateLimited(status, message, retry_after)
        if status >= 500:
            return ServerError(status, message, reference, retry_after)
        return BY_STATUS.get(status, PostventaError)(status, message)

    def _transport_error(self, exc: httpx.RequestError, call: Call) -> TransportError:
        detail = self._redact(str(exc)) or "no detail"
        message = f"{call.method} {call.path} failed: {type(exc).__name__}: {detail}"
        return TransportError(message, isinstance(exc, _RETRYABLE_TRANSPORT))

    def _retry_delay(self, error: PostventaError, call: Call, attempt: int) -> float:
        """The wait before retrying ``call``; raises ``error`` when it must not."""
        delay = self.retry_policy.delay(error, attempt) if call.retryable else None
        if delay is None:
            raise error
        log.warning(
            "request.retry method=%s path=%s error=%s status=%s attempt=%d delay=%.2f",
            call.method,
            call.path,
            type(error).__name__,
            error.status,
            attempt + 1,
            delay,
            extra={"path": call.path, "attempt": attempt + 1, "delay": delay},
        )
        return delay
