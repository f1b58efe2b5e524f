"""Marketplace credentials per account, sealed at rest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from postventa.marketplaces.port import Credentials
from postventa.store import tables as t
from postventa.store.secrets import Sealer
from postventa.store.upsert import upsert


class CredentialRepository:
    def __init__(self, connection: Connection, sealer: Sealer | None) -> None:
        self._db = connection
        self._sealer = sealer

    def _require_sealer(self) -> Sealer:
        if self._sealer is None:
            raise RuntimeError("credentials need a secret key; none is configured")
        return self._sealer

    def save(self, account_id: int, credentials: Credentials, now: datetime) -> None:
        sealer = self._require_sealer()
        row = {
            "account_id": account_id,
            "seller_id": credentials.seller_id,
            "client_id": credentials.client_id,
            "sealed_secret": sealer.seal(credentials.client_secret),
            "sealed_refresh_token": sealer.seal(credentials.refresh_token),
            "sealed_access_token": (
                sealer.seal(credentials.access_token)
                if credentials.access_token
                else None
            ),
            "access_expires_at": credentials.access_expires_at,
            "updated_at": now,
        }
        statement = upsert(self._db, t.marketplace_credentials)
        self._db.execute(
            statement.values(row).on_conflict_do_update(
                index_elements=["account_id"],
                set_={k: v for k, v in row.items() if k != "account_id"},
            )
        )

    def load(self, account_id: int) -> Credentials | None:
        row = self._db.execute(
            select(t.marketplace_credentials).where(
                t.marketplace_credentials.c.account_id == account_id
            )
        ).one_or_none()
        return self._open(row) if row else None

    def account_of_seller(self, seller_id: int) -> int | None:
        found = self._db.scalar(
            select(t.marketplace_credentials.c.account_id).where(
                t.marketplace_credentials.c.seller_id == seller_id
            )
        )
        return int(found) if found is not None else None

    def _open(self, row: Any) -> Credentials:
        sealer = self._require_sealer()
        access = row.sealed_access_token
        return Credentials(
            seller_id=row.seller_id,
            client_id=row.client_id,
            client_secret=sealer.open(row.sealed_secret),
            refresh_token=sealer.open(row.sealed_refresh_token),
            access_token=sealer.open(access) if access else None,
            access_expires_at=row.access_expires_at,
        )
