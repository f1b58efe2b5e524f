"""Capped exponential backoff with full jitter, honouring the marketplace's wait."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 1.0
    cap: float = 300.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (attempts count from 1)."""
        ceiling = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        jittered = self.rng.uniform(ceiling / 2, ceiling)
        return max(jittered, retry_after or 0.0)
