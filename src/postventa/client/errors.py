"""The client's errors, one class per answer the API refuses with.

PostventaError (status, message, reference)
├── BadRequest            400  a parameter is missing or invalid
├── Unauthorized          401  API key missing or unknown
├── Forbidden             403  the account is not linked to the key, or disabled
├── NotFound              404  no such order or message in this account
├── Conflict              409  a duplicate, or an Idempotency-Key conflict
├── PreconditionFailed    412  the option table or a conversation rule refuses
├── PayloadTooLarge       413  the body exceeds the server's limit
├── RateLimited           429  too many requests; ``retry_after`` says how long
├── ServerError           5xx  an unexpected fault; ``reference`` is in its logs
└── TransportError        -    no answer: connection refused, timeout, reset
"""

from __future__ import annotations


class PostventaError(Exception):
    """An answer the API refused with, or no answer at all (``status`` None)."""

    def __init__(
        self, status: int | None, message: str, reference: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reference = reference

    def __str__(self) -> str:
        prefix = "" if self.status is None else f"{self.status}: "
        return f"{prefix}{self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"
        )


class BadRequest(PostventaError):
    """400: a parameter is missing or invalid."""


class Unauthorized(PostventaError):
    """401: the API key is missing or unknown."""


class Forbidden(PostventaError):
    """403: the account is not linked to this key, or is disabled."""


class NotFound(PostventaError):
    """404: no such order in this account, or message in this pack."""


class Conflict(PostventaError):
    """409: a duplicate awaiting the buyer's reply, or an Idempotency-Key conflict."""


class PreconditionFailed(PostventaError):
    """412: the option table or a conversation rule refuses the message."""


class PayloadTooLarge(PostventaError):
    """413: the request body exceeds the server's limit."""


class RateLimited(PostventaError):
    """429: the key's rate is exceeded; wait ``retry_after`` seconds."""

    def __init__(
        self, status: int | None, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(status, message)
        self.retry_after = retry_after


class ServerError(PostventaError):
    """5xx: an unexpected fault; ``reference`` finds it in the server's logs."""

    def __init__(
        self,
        status: int | None,
        message: str,
        reference: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, message, reference)
        self.retry_after = retry_after


class TransportError(PostventaError):
    """The request got no answer: the connection failed or timed out."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(None, message)
        self.retryable = retryable


BY_STATUS: dict[int, type[PostventaError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    413: PayloadTooLarge,
}
