"""The database schema, shared by SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        moment: datetime = value.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("site", String(3), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("prefix", String(16), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

api_key_accounts = Table(
    "api_key_accounts",
    metadata,
    Column("key_id", Id, ForeignKey("api_keys.id"), nullable=False),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    PrimaryKeyConstraint("key_id", "account_id"),
)

orders = Table(
    "orders",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("id", BigInteger, nullable=False),
    Column("external_order_id", String(64), nullable=True),
    Column("pack_id", String(64), nullable=False),
    Column("is_mercadolibre", Boolean, nullable=False),
    Column("is_cancelled", Boolean, nullable=False),
    Column("country", String(2), nullable=False),
    Column("logistic_type", Integer, nullable=True),
    Column("shipment_delivered", Boolean, nullable=False),
    Column("status_type", Integer, nullable=True),
    Column("date_created", UtcDateTime, nullable=True),
    Column("buyer_nickname", String(200), nullable=True),
    Column("document", JSON, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("account_id", "id"),
    Index(None, "account_id", "pack_id"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("pack_id", String(64), nullable=False),
    Column("blocked_reason", Text, nullable=True),
    Column("buyer_user_id", BigInteger, nullable=True),
    Column("polled_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("account_id", "pack_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("order_id", BigInteger, nullable=False),
    Column("pack_id", String(64), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("option", Integer, nullable=True),
    Column("text", Text, nullable=False),
    Column("attachment_name", String(255), nullable=True),
    Column("attachment_extension", String(8), nullable=True),
    Column("attachment_size", BigInteger, nullable=True),
    Column("attachment_sha256", String(64), nullable=True),
    Column("attachment_media_type", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("marketplace_message_id", String(64), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    Column("outcome_unknown", Boolean, nullable=False, server_default=false()),
    Index(None, "account_id", "pack_id", "id"),
    Index(None, "status", "id"),
    Index(None, "attachment_sha256"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "account_id", "marketplace_message_id", unique=True),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", Id, ForeignKey("messages.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("worker", String(64), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("detail", Text, nullable=True),
    Index(None, "message_id", "number"),
)

marketplace_credentials = Table(
    "marketplace_credentials",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("seller_id", BigInteger, nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("sealed_secret", Text, nullable=False),
    Column("sealed_refresh_token", Text, nullable=False),
    Column("sealed_access_token", Text, nullable=True),
    Column("access_expires_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "seller_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("location", String(255), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("account_id", "key"),
    Index(None, "created_at"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("events", JSON, nullable=False),
    Column("secret", Text, nullable=False),
    Column("secret_sealed", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("removed_at", UtcDateTime, nullable=True),
    Index(None, "account_id"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "account_id", "created_at"),
    # The purge looks for old events across accounts.
    Index(None, "created_at"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", String(36), ForeignKey("webhook_events.id"), nullable=False),
    Column("endpoint_id", Id, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "event_id", "endpoint_id", unique=True),
    Index(None, "endpoint_id", "id"),
    Index(None, "status", "next_attempt_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("delivery_id", Id, ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("worker", String(64), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Index(None, "delivery_id", "number"),
)

operators = Table(
    "operators",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_digest", String(64), primary_key=True),
    Column("operator", String(64), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Index(None, "last_seen_at"),
)
