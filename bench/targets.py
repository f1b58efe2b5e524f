"""The targets the suite checks, each computed from figures of the same run."""

from __future__ import annotations

SQLITE_RATIO = 0.5
POSTGRES_RATIO = 0.35
PACED_SHARE = 0.7
PACED_TAIL = 10.0
DELIVERY_RATE = 1000.0
LIMIT_SHARE = 0.95
LARGE_STORE_TAIL = 1.5


def sqlite_send(ratio: float) -> bool:
    return ratio >= SQLITE_RATIO


def postgres_send(ratio: float) -> bool:
    return ratio >= POSTGRES_RATIO


def paced_tail(p50_ms: float, p99_ms: float) -> bool:
    return p99_ms <= PACED_TAIL * p50_ms


def delivery(rate: float) -> bool:
    return rate >= DELIVERY_RATE


def limited(share: float, throttled: int) -> bool:
    return share >= LIMIT_SHARE and throttled == 0


def large_store(p99_ms: float, empty_p99_ms: float) -> bool:
    return p99_ms <= LARGE_STORE_TAIL * empty_p99_ms


def mark(met: bool) -> str:
    return "met" if met else "MISSED"
