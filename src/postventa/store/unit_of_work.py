"""The repositories of one transaction, bound to its connection."""

from __future__ import annotations

from sqlalchemy import Connection

from postventa.store.console import ConsoleRepository
from postventa.store.credentials import CredentialRepository
from postventa.store.metrics import MetricsRepository
from postventa.store.operators import OperatorRepository
from postventa.store.outbox import OutboxRepository
from postventa.store.reads import ReadRepository
from postventa.store.repositories import (
    AccountRepository,
    ApiKeyRepository,
    IdempotencyRepository,
    MessageRepository,
    OrderRepository,
)
from postventa.store.secrets import Sealer
from postventa.store.webhooks import WebhookRepository


class Repositories:
    """The unit of work's repositories; the transaction is the caller's."""

    def __init__(self, connection: Connection, sealer: Sealer | None = None) -> None:
        self.connection = connection
        self.accounts = AccountRepository(connection)
        self.api_keys = ApiKeyRepository(connection)
        self.orders = OrderRepository(connection)
        self.messages = MessageRepository(connection)
        self.idempotency = IdempotencyRepository(connection)
        self.outbox = OutboxRepository(connection)
        self.credentials = CredentialRepository(connection, sealer)
        self.reads = ReadRepository(connection)
        self.metrics = MetricsRepository(connection)
        self.webhooks = WebhookRepository(connection, sealer)
        self.operators = OperatorRepository(connection)
        self.console = ConsoleRepository(connection)
