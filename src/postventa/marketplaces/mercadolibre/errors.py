"""Mercado Libre's answers and failed calls, translated into the port's errors.

httpx.TransportError (the aiohttp transport raises these classes too)
 ├── raised before the request left (ConnectError, ConnectTimeout, PoolTimeout,
 │   LocalProtocolError, UnsupportedProtocol, ProxyError)   → Retryable
 └── raised after it may have arrived (ReadTimeout, WriteTimeout, ReadError,
     WriteError, RemoteProtocolError, CloseError, deadline)  → UnknownOutcome on a
                                                              POST that creates a
                                                              message, else Retryable
HTTP status
 ├── 408, 409 (another request locks the operation), 429     → Retryable
 ├── 5xx                                                     → UnknownOutcome on a
 │                                                             message POST, else
 │                                                             Retryable
 └── any other 4xx (400 text or template, 403 cap or blocked,
     404 option, 422 attachment id, 451 buyer deactivated)   → Permanent
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from postventa.marketplaces.mercadolibre.transport import Answer
from postventa.marketplaces.port import (
    MarketplaceError,
    NotConnected,
    Permanent,
    Retryable,
    UnknownOutcome,
)

LOCK_RETRY_AFTER = 1.0
TOO_MANY_RETRY_AFTER = 5.0
MAX_REASON_LENGTH = 500

_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.LocalProtocolError,
    httpx.UnsupportedProtocol,
    httpx.ProxyError,
)


def transport_error(exc: Exception, creates_message: bool) -> Retryable:
    """The error for a request that failed without an HTTP answer."""
    name = type(exc).__name__
    if isinstance(exc, _NOT_SENT):
        return Retryable(f"The marketplace could not be reached ({name}).")
    if creates_message:
        return UnknownOutcome(
            f"The marketplace's answer was lost ({name}); the message may exist."
        )
    return Retryable(f"The marketplace's answer was lost ({name}).")


def status_error(
    response: Answer, creates_message: bool, reason: str | None = None
) -> MarketplaceError:
    """The error for an HTTP answer of 400 or more."""
    status = response.status_code
    reason = reason or marketplace_reason(response)
    if status == 429:
        wait = retry_after(response.headers) or TOO_MANY_RETRY_AFTER
        return Retryable(reason, status, wait)
    if status == 409:
        return Retryable(reason, status, LOCK_RETRY_AFTER)
    if status == 408:
        return Retryable(reason, status, retry_after(response.headers))
    if status >= 500:
        kind = UnknownOutcome if creates_message else Retryable
        return kind(reason, status, retry_after(response.headers))
    return Permanent(reason, status)


def token_error(response: Answer) -> MarketplaceError:
    """The error for a refused token refresh; the body is never echoed."""
    status = response.status_code
    code = _field(_document(response), "error") or f"HTTP {status}"
    # Refused credentials are not the message's fault: it waits, queued, until
    # the account is connected again.
    if code == "invalid_grant":
        return NotConnected(
            "The marketplace refused the refresh token (invalid_grant): "
            "the account must be reconnected.",
            status,
        )
    if status in (400, 401, 403):
        return NotConnected(
            f"The marketplace refused the application's credentials ({code}): "
            "the account must be reconnected.",
            status,
        )
    return status_error(response, False, f"The token refresh failed ({code}).")


def marketplace_reason(response: Answer) -> str:
    """The marketplace's own sentence for a refusal, else its code or status."""
    document = _document(response)
    reason = _field(document, "message") or _field(document, "error")
    if not reason:
        reason = f"HTTP {response.status_code} from the marketplace."
    return reason[:MAX_REASON_LENGTH]


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _seconds_until(value: str) -> float | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _document(response: Answer) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _field(document: dict[str, Any], name: str) -> str:
    value = document.get(name)
    return value.strip() if isinstance(value, str) else ""
