"""What the sandbox is configured with: sellers, limits, notifications and faults."""

from __future__ import annotations

from typing import Annotated

import msgspec

MEBIBYTE = 1024 * 1024

Rate = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Seconds = Annotated[float, msgspec.Meta(ge=0.0)]
PerMinute = Annotated[int, msgspec.Meta(ge=1)]
ServerError = Annotated[int, msgspec.Meta(ge=500, le=599)]


class SellerConfig(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True
):
    """A seller and the marketplace application that acts for it."""

    seller_id: Annotated[int, msgspec.Meta(gt=0)]
    client_id: Annotated[str, msgspec.Meta(min_length=1)]
    client_secret: Annotated[str, msgspec.Meta(min_length=1)]
    refresh_token: Annotated[str, msgspec.Meta(min_length=1)]
    site_id: str = "MLA"


class FaultConfig(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True
):
    """Trouble injected into the marketplace routes; each rate is a probability."""

    latency_ms: Seconds = 0.0
    latency_jitter_ms: Seconds = 0.0
    spike_rate: Rate = 0.0
    spike_ms: Seconds = 0.0
    error_rate: Rate = 0.0
    error_statuses: tuple[ServerError, ...] = (500, 502, 503)
    rate_429: Rate = 0.0
    retry_after_seconds: Annotated[int, msgspec.Meta(ge=0)] = 1
    timeout_rate: Rate = 0.0
    timeout_seconds: Seconds = 30.0
    drop_rate: Rate = 0.0
    drop_before_rate: Rate = 0.0
    # Access tokens refused before the expiry they announced.
    token_max_uses: Annotated[int, msgspec.Meta(ge=1)] | None = None
    token_ttl_seconds: Annotated[float, msgspec.Meta(gt=0.0)] | None = None
    seed: int | None = None
    # Empty: every marketplace route. Else only paths starting with one of these.
    path_prefixes: tuple[str, ...] = ()


class SandboxConfig(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True
):
    """The whole configuration of one sandbox."""

    sellers: tuple[SellerConfig, ...] = ()
    notification_url: str | None = None
    access_token_seconds: Annotated[float, msgspec.Meta(gt=0.0)] = 21600.0
    get_limit_per_minute: PerMinute = 500
    post_limit_per_minute: PerMinute = 500
    max_attachment_bytes: Annotated[int, msgspec.Meta(ge=1)] = 25 * MEBIBYTE
    faults: FaultConfig = msgspec.field(default_factory=FaultConfig)


def validated(config: SandboxConfig) -> SandboxConfig:
    """Check the constraints that building a struct in Python does not check."""
    return msgspec.convert(msgspec.to_builtins(config), SandboxConfig)
