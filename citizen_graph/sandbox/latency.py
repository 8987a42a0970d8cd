"""Latency profiles: how long each simulated upstream takes to answer.

A profile is a typed value; `none` adds nothing, `realistic` draws lognormal delays around the
medians of the reference (DGFiP 400 ms, API Particulier 300 ms with p95 1.5 s and a 1 % tail of
10 s provider timeouts, BAN 30 ms plus 1 ms per CSV row).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# p95 = median × e^(1.645 σ)
_Z95 = 1.645


@dataclass(frozen=True, slots=True)
class Lognormal:
    median_s: float = 0.0
    sigma: float = 0.5

    def draw(self, rng: random.Random) -> float:
        if self.median_s <= 0:
            return 0.0
        return rng.lognormvariate(math.log(self.median_s), self.sigma)


@dataclass(frozen=True, slots=True)
class LatencyProfile:
    name: str
    dgfip: Lognormal = Lognormal()
    api_particulier: Lognormal = Lognormal()
    ban: Lognormal = Lognormal()
    ban_per_row_s: float = 0.0  # BAN CSV: extra time per geocoded row
    provider_timeout_rate: float = (
        0.0  # API Particulier calls that wait, then answer 504
    )
    provider_timeout_s: float = 10.0

    def draw(self, upstream: str, rng: random.Random, rows: int = 0) -> float:
        """Seconds of added latency for one request to `upstream`."""
        distribution: Lognormal = getattr(self, upstream)
        extra = self.ban_per_row_s * rows if upstream == "ban" else 0.0
        return distribution.draw(rng) + extra


LATENCY_PROFILES: Mapping[str, LatencyProfile] = MappingProxyType(
    {
        "none": LatencyProfile("none"),
        "realistic": LatencyProfile(
            "realistic",
            dgfip=Lognormal(0.4, 0.45),
            api_particulier=Lognormal(0.3, math.log(1.5 / 0.3) / _Z95),
            ban=Lognormal(0.03, 0.4),
            ban_per_row_s=0.001,
            provider_timeout_rate=0.01,
        ),
    }
)
