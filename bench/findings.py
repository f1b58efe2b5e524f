"""Everything one run of the suite measured, filled in row by row."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.floor import Floor
from bench.profile import Profile
from bench.wrk import Result


@dataclass(frozen=True, slots=True)
class Drain:
    """Row (e): a queue delivered without limits."""

    messages: int
    seconds: float
    startup_seconds: float
    worker_cpu_seconds: float
    sandbox_cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


@dataclass(frozen=True, slots=True)
class Limited:
    """Row (f): delivery under the marketplace's per-minute limit."""

    limit: int
    queued: int
    posts_first_minute: int
    posts_total: int
    gets_first_minute: int
    throttled: int
    seconds: float

    @property
    def share(self) -> float:
        return self.posts_first_minute / self.limit


@dataclass
class Findings:
    workdir: Path
    http: dict[str, Result] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)
    invalid: set[str] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)
    paced_rate: float = 0.0
    drain: Drain | None = None
    limited: Limited | None = None
    floor: Floor | None = None
    profiles: list[Profile] = field(default_factory=list)
    memory: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    # The share of the cores that other processes used during each step.
    others: dict[str, float] = field(default_factory=dict)

    def ratio(self, row: str) -> float:
        return self.http[row].rps / self.http["a"].rps
