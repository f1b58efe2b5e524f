"""Structured logs: JSON lines (or readable console lines), secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO
from urllib.parse import unquote, unquote_plus

import structlog

from postventa.domain.accounts import KEY_PREFIX

# A ``name=value`` pair of a query string, alone or inside a URL or a sentence.
_PAIR = re.compile(r"""(?:^|(?<=[?&;\s"']))([^?&;=#\s"']+)=([^&;#\s"']*)""")
# A run of URL characters long enough to hold a key, percent-encoded or not.
_URL_RUN = re.compile(r"[A-Za-z0-9%_.~+-]{19,}")
# An API key, or most of one: its prefix and 16 of its random characters.
_KEY_LIKE = re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9_-]{16,}")
REDACTED = "***"


def _redact_pair(found: re.Match[str]) -> str:
    # Named as the API reads names: percent-decoded, in any case.
    if unquote_plus(found[1]).lower() == "api_key":
        return f"{found[1]}={REDACTED}"
    return found[0]


def _redact_run(found: re.Match[str]) -> str:
    run = found[0]
    return REDACTED if _KEY_LIKE.search(unquote(run) if "%" in run else run) else run


def redact_query(text: str) -> str:
    """Hide API keys in a query string, a URL or a sentence holding one.

    The value of every parameter the API would read as API_KEY is replaced (any
    case, percent-encoded or not), and so is anything shaped like a key, so
    that a key sent under a misspelt name is not logged either.
    """
    if "=" in text:
        text = _PAIR.sub(_redact_pair, text)
    if "%" in text or KEY_PREFIX in text:
        text = _URL_RUN.sub(_redact_run, text)
    return text


def _redact_event(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact_query(value)
    return event


def configure_logging(
    level: str = "INFO", fmt: str = "json", stream: TextIO | None = None
) -> None:
    """Send structlog's and the standard library's records to one stream
    (stdout unless given)."""
    # Plain tracebacks only: rich ones print local variables, which may hold
    # the request's query string and so the API key.
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact_event,
    ]
    structlog.configure(
        processors=[
            # Drop events below the level before any work is spent on them.
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
