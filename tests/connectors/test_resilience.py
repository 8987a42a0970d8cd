import asyncio

import pytest

from citizen_graph.connectors._resilience import (
    CircuitBreaker,
    RateLimitExceeded,
    RetryBudget,
    SlidingWindowLimiter,
)

pytestmark = pytest.mark.anyio


def test_breaker_opens_after_consecutive_failures_and_probes_once() -> None:
    breaker = CircuitBreaker(threshold=3, open_s=0.0)
    for _ in range(2):
        breaker.failure()
    assert breaker.state == "closed"
    breaker.failure()
    assert breaker.state in {"open", "half_open"}
    assert breaker.allow() is True  # the single probe (open_s = 0)
    assert breaker.allow() is False
    breaker.success()
    assert breaker.state == "closed"


def test_breaker_stays_open_during_its_open_period() -> None:
    breaker = CircuitBreaker(threshold=1, open_s=60.0)
    breaker.failure()
    assert breaker.state == "open"
    assert breaker.allow() is False


def test_a_failed_probe_reopens_the_circuit() -> None:
    breaker = CircuitBreaker(threshold=5, open_s=0.0)
    for _ in range(5):
        breaker.failure()
    assert breaker.allow() is True
    breaker.failure()
    assert breaker._opened_at is not None


async def test_limiter_refuses_a_slot_beyond_the_callers_deadline() -> None:
    limiter = SlidingWindowLimiter(max_calls=3, window_s=10.0)
    for _ in range(3):
        await limiter.acquire(max_wait_s=0.0)
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire(max_wait_s=1.0)


async def test_limiter_honours_retry_after() -> None:
    limiter = SlidingWindowLimiter(max_calls=100)
    limiter.pause(30.0)
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire(max_wait_s=5.0)


async def test_limiter_lets_calls_through_once_the_window_moved() -> None:
    limiter = SlidingWindowLimiter(max_calls=2, window_s=0.05, margin_s=0.0)
    results = await asyncio.gather(*(limiter.acquire(max_wait_s=5.0) for _ in range(5)))
    assert results == [None] * 5


def test_retry_budget_allows_about_one_retry_in_five_requests() -> None:
    budget = RetryBudget(ratio=0.2, cap=1.0)
    assert budget.withdraw() is True
    granted = 0
    for _ in range(50):
        budget.deposit()
        granted += budget.withdraw()
    assert granted == 10


def test_a_probe_that_never_reached_the_upstream_lets_another_try() -> None:
    breaker = CircuitBreaker(threshold=1, open_s=0.0)
    breaker.failure()
    assert breaker.allow() is True  # the probe…
    breaker.abandon()  # …found no slot before its deadline
    assert breaker.allow() is True
