"""An upstream rate limit counted in Redis holds across processes, and falls back to each
process's safe share when Redis is lost. Counted, never timed: each test asks within one
window and counts the starts let through without waiting."""

from __future__ import annotations

import time

import pytest
import redis

from citizen_graph.connectors import RateLimitExceeded
from citizen_graph.shared.limits import SharedWindow
from tests.shared.conftest import StateFactory

pytestmark = pytest.mark.anyio


async def starts_without_waiting(window: SharedWindow, tries: int) -> int:
    started = 0
    for _ in range(tries):
        try:
            await window.acquire(max_wait_s=0.0)
            started += 1
        except RateLimitExceeded:
            pass
    return started


async def test_two_processes_together_start_no_more_than_the_rate(
    open_state: StateFactory,
) -> None:
    first, second = await open_state(), await open_state()
    windows = [
        SharedWindow(s, s.name("rate", "api_particulier", "t"), 20, 5)
        for s in (first, second)
    ]
    # The burst (5) is the most that may start at once, whoever asks.
    started = [await starts_without_waiting(w, 10) for w in windows]
    assert sum(started) == 5
    assert started == [5, 0]


async def test_the_window_is_per_credential(open_state: StateFactory) -> None:
    state = await open_state()
    one = SharedWindow(state, state.name("rate", "api_particulier", "a"), 20, 5)
    other = SharedWindow(state, state.name("rate", "api_particulier", "b"), 20, 5)
    assert await starts_without_waiting(one, 10) == 5
    assert await starts_without_waiting(other, 10) == 5


async def test_a_retry_after_pause_stops_every_process(
    open_state: StateFactory,
) -> None:
    first, second = await open_state(), await open_state()
    name = first.name("rate", "api_particulier", "t")
    paused, other = SharedWindow(first, name, 20, 5), SharedWindow(second, name, 20, 5)
    paused.pause(30)
    await paused._pausing.pop()  # the shared pause is written
    assert await starts_without_waiting(other, 3) == 0


async def test_a_lost_redis_leaves_each_process_its_share_of_the_rate(
    open_state: StateFactory, redis_server: object
) -> None:
    # Nothing listens on this port: Redis is lost from the start.
    state = await open_state(url="redis://127.0.0.1:9/0", processes=4, timeout_s=0.2)
    assert state.status == "degraded"
    window = SharedWindow(state, state.name("rate", "api_particulier", "t"), 20, 5)
    # 20 calls/s shared by 4 processes: 5 each, of which 1 at once (its burst).
    assert window.fallback.capacity(1.0) is not None
    assert await starts_without_waiting(window, 10) == 1
    assert window.capacity(0.0) == 0


async def test_a_process_back_on_redis_keeps_to_its_share_for_one_window(
    open_state: StateFactory, redis_url: str
) -> None:
    state = await open_state(processes=2)
    name = state.name("rate", "api_particulier", "t")
    window = SharedWindow(state, name, 20, 10)
    state.back_at = time.monotonic()  # just back: others' lost-time starts are nowhere
    assert await starts_without_waiting(window, 20) == 5  # its share of the burst
    with redis.Redis.from_url(redis_url) as client:
        assert client.zcard(name) == 0  # counted in this process alone


async def test_starts_counted_in_redis_are_remembered_when_it_is_lost(
    open_state: StateFactory,
) -> None:
    state = await open_state(processes=2)
    window = SharedWindow(state, state.name("rate", "api_particulier", "t"), 20, 10)
    assert await starts_without_waiting(window, 10) == 10  # through Redis
    state._lost("ConnectionError")
    # Its share is 10 calls per window, 5 at once: the 10 just made already spend it.
    assert await starts_without_waiting(window, 10) == 0


async def test_a_key_of_another_type_at_the_windows_name_is_no_lost_redis(
    open_state: StateFactory, redis_url: str
) -> None:
    state = await open_state(processes=2)
    name = state.name("rate", "api_particulier", "t")
    with redis.Redis.from_url(redis_url) as client:
        client.set(name, b"not a sorted set")
    window = SharedWindow(state, name, 20, 10)
    assert await starts_without_waiting(window, 10) == 5  # this process's share
    assert state.available
