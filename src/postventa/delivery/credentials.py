"""The connector's credential store, kept sealed in the database."""

from __future__ import annotations

from datetime import UTC, datetime

from postventa.marketplaces.port import Credentials, NotConnected
from postventa.store.database import Database
from postventa.store.secrets import SecretError


class StoredCredentials:
    """Implements the marketplace port's CredentialStore over the store."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def load(self, account_id: int) -> Credentials | None:
        """The account's credentials; sealed with another key, they are as good
        as none, so its messages wait for a reconnection instead of failing."""
        try:
            return await self._database.read(
                lambda repos: repos.credentials.load(account_id)
            )
        except SecretError as exc:
            raise NotConnected(
                f"The Mercado Libre credentials of account {account_id} were "
                "sealed with another POSTVENTA_SECRET_KEY; set that key again, "
                "or connect the account anew."
            ) from exc

    async def save(self, account_id: int, credentials: Credentials) -> None:
        now = datetime.now(UTC)
        await self._database.write(
            lambda repos: repos.credentials.save(account_id, credentials, now)
        )
