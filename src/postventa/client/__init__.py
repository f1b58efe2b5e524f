"""A Python client of the postventa API, blocking (:class:`Client`) and asyncio
(:class:`AsyncClient`), with typed answers, one exception per refusal, and
bounded retries that never send a message twice."""

from postventa.client._base import RetryPolicy
from postventa.client.aio import AsyncClient
from postventa.client.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PostventaError,
    PreconditionFailed,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from postventa.client.models import (
    Attachment,
    Message,
    OptionAvailability,
    Order,
    OrdersPage,
    Pair,
)
from postventa.client.sync import Client
from postventa.domain.options import MessageOption

__all__ = [
    "AsyncClient",
    "Attachment",
    "BadRequest",
    "Client",
    "Conflict",
    "Forbidden",
    "Message",
    "MessageOption",
    "NotFound",
    "OptionAvailability",
    "Order",
    "OrdersPage",
    "Pair",
    "PayloadTooLarge",
    "PostventaError",
    "PreconditionFailed",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "TransportError",
    "Unauthorized",
]
