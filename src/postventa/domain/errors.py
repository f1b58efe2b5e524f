"""The refusals postventa answers with, each carrying its HTTP status.

PostventaError
 ├── Unauthorized (401)            missing, unknown or conflicting API key
 ├── BadRequest (400)              malformed or invalid parameters
 ├── Forbidden (403)               account not linked to the key, or disabled
 ├── NotFound (404)                no such order (or message) in this account
 ├── Conflict (409)                duplicate message or idempotency conflict
 ├── PreconditionFailed (412)      the option table or a conversation rule
 ├── PayloadTooLarge (413)         the body exceeds the configured limit
 ├── TooManyRequests (429)         a rate limit, with the seconds to wait
 └── ServiceUnavailable (503)      a part this server does not run
"""

from __future__ import annotations


class PostventaError(Exception):
    """A refusal with its HTTP status and one clear sentence for the caller."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(PostventaError):
    status = 400


class Unauthorized(PostventaError):
    status = 401


class Forbidden(PostventaError):
    status = 403


class NotFound(PostventaError):
    status = 404


class Conflict(PostventaError):
    status = 409


class PreconditionFailed(PostventaError):
    """A rule refuses the message; ``rule`` names it for logs and metrics."""

    status = 412

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class RequestTimeout(PostventaError):
    """The client stopped sending its body before it ended."""

    status = 408


class PayloadTooLarge(PostventaError):
    status = 413


class TooManyRequests(PostventaError):
    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(PostventaError):
    status = 503
