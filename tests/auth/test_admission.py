"""Admission counted, never timed: the calls a request needs against what its
habilitation's bucket lets start before the deadline (an injected clock for the bucket)."""

from __future__ import annotations

import asyncio

import pytest

from citizen_graph import request_scope
from citizen_graph.access import Access
from citizen_graph.auth.admission import Admission
from citizen_graph.connectors import SlidingWindowLimiter
from citizen_graph.errors import RateLimited
from tests.connectors.conftest import FakeClock

ACCESS = Access("h", "21350238800019")


def limiter(clock: FakeClock) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(20, clock=clock, sleep=clock.sleep, burst=5)


def test_a_fresh_bucket_lets_its_burst_start_at_once_then_its_rate() -> None:
    bucket = limiter(FakeClock())
    assert bucket.capacity(0.0) == 5
    assert bucket.capacity(1.2) == 5 + 20  # 20 calls per 1.2 s (window + margin)
    assert bucket.capacity(6.5) == 5 + 108


@pytest.mark.anyio
async def test_queued_calls_and_pauses_reduce_the_capacity() -> None:
    clock = FakeClock()
    bucket = limiter(clock)
    for _ in range(5):
        await bucket.acquire(1.0)
    assert bucket.capacity(0.0) == 0  # the burst is spent
    bucket.pause(30)
    assert bucket.capacity(10.0) == 0  # paused past the window


def test_without_a_rate_there_is_no_capacity_to_count() -> None:
    assert SlidingWindowLimiter(None).capacity(5.0) is None


class OneBucket:
    """Admission's view of one upstream limited by one bucket (as Connectors give it)."""

    def __init__(self, bucket: SlidingWindowLimiter) -> None:
        self.bucket = bucket

    def capacity(self, source: str, access: Access, within_s: float) -> int | None:
        return self.bucket.capacity(within_s - 1.5)

    def reserve(self, source: str, access: Access, calls: int) -> None:
        self.bucket.reserve(calls)
        request_scope.reserve("bucket", calls, self.bucket.release)


def test_a_request_that_fits_is_admitted() -> None:
    admission = Admission(OneBucket(limiter(FakeClock())), 8.0)
    admission.check({"api_particulier": 100}, 50, ACCESS)


def test_a_request_that_does_not_fit_names_the_largest_batch_that_does() -> None:
    bucket = limiter(FakeClock())
    admission = Admission(OneBucket(bucket), 8.0)
    with pytest.raises(RateLimited) as refused:
        admission.check({"api_particulier": 200}, 100, ACCESS)
    fits = refused.value.max_citizens
    assert fits == bucket.capacity(6.5) // 2
    assert refused.value.extensions == {"code": "RATE_LIMITED", "maxCitizens": fits}
    admission.check({"api_particulier": 2 * fits}, fits, ACCESS)  # and it does fit


def test_admitted_calls_are_reserved_until_the_request_ends() -> None:
    bucket = limiter(FakeClock())
    admission = Admission(OneBucket(bucket), 8.0)
    with request_scope.open_scope(8.0):
        admission.check({"api_particulier": 100}, 100, ACCESS)
        # A concurrent request of the same habilitation sees what is left.
        with pytest.raises(RateLimited) as refused:
            admission.check({"api_particulier": 100}, 100, ACCESS)
        assert refused.value.max_citizens == bucket.capacity(6.5)
    assert bucket.capacity(6.5) == 113  # released when the first request ended


def test_upstreams_without_a_per_credential_limit_are_not_counted() -> None:
    class Unlimited(OneBucket):
        def capacity(self, source: str, access: Access, within_s: float) -> None:
            return None

    admission = Admission(Unlimited(limiter(FakeClock())), 8.0)
    admission.check({"dgfip": 10_000, "ban": 100}, 100, ACCESS)


def test_waiting_calls_count_against_the_next_request() -> None:
    clock = FakeClock()
    bucket = limiter(clock)

    async def queue() -> None:
        blocked = asyncio.Event()

        async def stuck(seconds: float) -> None:
            await blocked.wait()

        slow = SlidingWindowLimiter(20, clock=clock, sleep=stuck, burst=5)
        for _ in range(5):
            await slow.acquire(1.0)
        waiters = [asyncio.ensure_future(slow.acquire(100.0)) for _ in range(3)]
        await asyncio.sleep(0)
        assert slow.capacity(0.0) == 0
        assert slow.capacity(1.2) == 20 - 3
        blocked.set()
        await asyncio.gather(*waiters)

    asyncio.run(queue())
    assert bucket.capacity(1.2) == 25
