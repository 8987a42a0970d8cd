"""Latency profiles: nothing added by `none`, the reference's figures for `realistic`."""

from __future__ import annotations

import random
import statistics

from citizen_graph.sandbox.registry import LATENCY_PROFILES


def quantiles(upstream: str, rows: int = 0) -> tuple[float, float]:
    rng = random.Random(1)
    profile = LATENCY_PROFILES["realistic"]
    draws = sorted(profile.draw(upstream, rng, rows) for _ in range(4_000))
    return statistics.median(draws), draws[int(len(draws) * 0.95)]


def test_none_profile_adds_nothing() -> None:
    profile = LATENCY_PROFILES["none"]
    rng = random.Random(1)
    assert {profile.draw(u, rng, 100) for u in ("dgfip", "api_particulier", "ban")} == {
        0.0
    }
    assert profile.of("api_particulier").timeout_rate == 0


def test_realistic_profile_matches_the_reference() -> None:
    dgfip_median, _ = quantiles("dgfip")
    particulier_median, particulier_p95 = quantiles("api_particulier")
    ban_median, _ = quantiles("ban")
    csv_median, _ = quantiles("ban", rows=100)
    assert 0.35 <= dgfip_median <= 0.45
    assert 0.27 <= particulier_median <= 0.33
    assert 1.3 <= particulier_p95 <= 1.7
    assert 0.025 <= ban_median <= 0.035
    assert 0.12 <= csv_median <= 0.14
    assert LATENCY_PROFILES["realistic"].of("api_particulier").timeout_rate == 0.01
