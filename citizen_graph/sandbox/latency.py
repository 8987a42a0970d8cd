"""Latency profiles: how long each simulated upstream takes to answer."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

# A profile is a typed value built from each registered upstream's own entry (`Latency`); `none`
# adds nothing, `realistic` draws lognormal delays around the medians of the reference (DGFiP
# 400 ms, API Particulier 300 ms with p95 1.5 s and a 1 % tail of 10 s provider timeouts, BAN
# 30 ms plus 1 ms per CSV row).

PROFILES = ("none", "realistic")
# p95 = median × e^(1.645 σ)
_Z95 = 1.645


@dataclass(frozen=True, slots=True)
class Lognormal:
    median_s: float = 0.0
    sigma: float = 0.5

    @classmethod
    def with_p95(cls, median_s: float, p95_s: float) -> Lognormal:
        return cls(median_s, math.log(p95_s / median_s) / _Z95)

    def draw(self, rng: random.Random) -> float:
        if self.median_s <= 0:
            return 0.0
        return rng.lognormvariate(math.log(self.median_s), self.sigma)


@dataclass(frozen=True, slots=True)
class Latency:
    """How long one upstream takes in one profile."""

    delay: Lognormal = Lognormal()
    per_row_s: float = 0.0  # batch endpoints: extra time per row
    timeout_rate: float = 0.0  # calls to a data provider that wait, then time out
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class LatencyProfile:
    name: str
    upstreams: Mapping[str, Latency]  # upstream name → its entry

    def of(self, upstream: str) -> Latency:
        """The entry of `upstream` (nothing added when it declares none)."""
        return self.upstreams.get(upstream, Latency())

    def draw(self, upstream: str, rng: random.Random, rows: int = 0) -> float:
        """Seconds of added latency for one request to `upstream`."""
        latency = self.of(upstream)
        return latency.delay.draw(rng) + latency.per_row_s * rows
