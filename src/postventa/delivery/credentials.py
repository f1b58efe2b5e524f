"""The connector's credential store, kept sealed in the database."""

from __future__ import annotations

from datetime import UTC, datetime

from postventa.marketplaces.port import Credentials
from postventa.store.database import Database


class StoredCredentials:
    """Implements the marketplace port's CredentialStore over the store."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def load(self, account_id: int) -> Credentials | None:
        return await self._database.read(
            lambda repos: repos.credentials.load(account_id)
        )

    async def save(self, account_id: int, credentials: Credentials) -> None:
        now = datetime.now(UTC)
        await self._database.write(
            lambda repos: repos.credentials.save(account_id, credentials, now)
        )
