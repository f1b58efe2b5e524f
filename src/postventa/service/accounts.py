"""Accounts and API keys: creating, linking, revoking, and recognizing a key."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from postventa.domain.accounts import (
    Account,
    KeyGrant,
    digests_match,
    key_digest,
    new_api_key,
)
from postventa.domain.errors import BadRequest, NotFound
from postventa.domain.sites import site_id
from postventa.service.ports import UnitOfWork


def create_account(uow: UnitOfWork, name: str, site: str, now: datetime) -> Account:
    """Create an account on a marketplace site (a site id like MLA or a country)."""
    clean_name = name.strip()
    if not clean_name or len(clean_name) > 200:
        raise BadRequest("An account name must have 1 to 200 characters.")
    site_code = site_id(site)
    if site_code is None:
        raise BadRequest(f"Unknown Mercado Libre site {site!r}; use e.g. MLA or MLB.")
    return uow.accounts.add(clean_name, site_code, now)


def create_api_key(
    uow: UnitOfWork, account_ids: Iterable[int], now: datetime
) -> tuple[int, str]:
    """Create a key linked to accounts; the clear key is returned only here."""
    wanted = sorted(set(account_ids))
    if not wanted:
        raise BadRequest("A key must be linked to at least one account.")
    for account_id in wanted:
        if uow.accounts.get(account_id) is None:
            raise NotFound(f"Account {account_id} does not exist.")

    key = new_api_key()
    key_id = uow.api_keys.add(key[:8], key_digest(key), now)
    for account_id in wanted:
        uow.api_keys.link(key_id, account_id)
    return key_id, key


def link_api_key(uow: UnitOfWork, key_id: int, account_id: int) -> None:
    if uow.accounts.get(account_id) is None:
        raise NotFound(f"Account {account_id} does not exist.")
    uow.api_keys.link(key_id, account_id)


def recognize_key(uow: UnitOfWork, key: str) -> KeyGrant | None:
    """The grant of a presented key, or None when it is unknown or revoked."""
    digest = key_digest(key)
    grant = uow.api_keys.grant(digest)
    if grant is None or not digests_match(grant.digest, digest):
        return None
    return grant
