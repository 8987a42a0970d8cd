"""One credential's upstream rate limit, counted in Redis for every process at once, and
this process's safe share of it while Redis is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from functools import partial
from typing import Any

import redis.asyncio as redis
from redis.commands.core import AsyncScript

from citizen_graph.connectors import (
    RateLimitExceeded,
    SlidingWindowLimiter,
    queued,
    window_capacity,
)
from citizen_graph.shared.state import SharedState, SharedUnavailable

# As `SlidingWindowLimiter`'s: a one-second window, and a margin for network skew.
WINDOW_S, MARGIN_S = 1.0, 0.2

# KEYS: the window, the pause; ARGV: max calls, span (µs), burst (0: none), the burst's share
# of the span (µs), this start's unique member. Returns {wait µs, calls in the window}; a
# wait of 0 means the start was counted.
WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return {paused * 1000, -1} end
local max, span = tonumber(ARGV[1]), tonumber(ARGV[2])
local burst, share = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local n = redis.call('ZCARD', KEYS[1])
local wait = 0
if n >= max then
  local oldest = redis.call('ZRANGE', KEYS[1], n - max, n - max, 'WITHSCORES')
  wait = tonumber(oldest[2]) + span - now
end
if burst > 0 and n >= burst then
  local first = redis.call('ZRANGE', KEYS[1], n - burst, n - burst, 'WITHSCORES')
  wait = math.max(wait, tonumber(first[2]) + share - now)
end
if wait > 0 then return {math.ceil(wait), n} end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], math.ceil(span / 1000))
return {0, n + 1}
"""
# KEYS: the pause; ARGV: milliseconds. Only ever lengthens a pause.
PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
"""


class SharedWindow:
    """`SlidingWindowLimiter`'s interface, counted in Redis.

    The same rolling window (a start is counted when it is let through; at most `max_calls`
    per second plus a margin, at most `burst` at once), kept as a sorted set of send times
    by one Lua script, atomic in Redis and timed by Redis's own clock (`TIME`), so processes
    on different hosts never disagree on a second. A Retry-After pause is a key every
    process reads. In one process, callers queue on a lock and one of them asks Redis at a
    time.

    When Redis is lost, calls go to a per-process window at this process's safe share of
    the rate and of the burst (`SharedState.share`): together the processes still stay
    under the upstream's limit. Rate-less limits (DGFiP) are per process, Redis never asked.
    """

    def __init__(
        self, state: SharedState, name: str, max_calls: int, burst: int | None
    ) -> None:
        self._state = state
        self._max_calls = max_calls
        self._burst = burst
        self._span_s = WINDOW_S + MARGIN_S
        self._keys = [name, name + ":pause"]
        self.fallback_rate = state.share(max_calls)
        self.fallback = SlidingWindowLimiter(
            self.fallback_rate,
            WINDOW_S,
            MARGIN_S,
            burst=state.share(burst) if burst else None,
        )
        self._window: AsyncScript = state.redis.register_script(WINDOW)
        self._pause: AsyncScript = state.redis.register_script(PAUSE)
        self._members = itertools.count()
        self._me = os.urandom(6).hex()
        self._lock = asyncio.Lock()
        self._recent = (0.0, 0)  # (when, calls in the shared window then)
        self._paused_until = 0.0
        self._waiting = 0
        self._reserved = 0
        self._pausing: set[asyncio.Task[None]] = set()

    def reserve(self, calls: int) -> None:
        self._reserved += calls
        self.fallback.reserve(calls)

    def release(self, calls: int) -> None:
        self._reserved = max(0, self._reserved - calls)
        self.fallback.release(calls)

    def capacity(self, within_s: float) -> int | None:
        """As `SlidingWindowLimiter.capacity`, from the shared window's last count."""
        if not self._shared_now():
            return self.fallback.capacity(within_s)
        # Reservations are this process's: admitting against its share of the rate
        # keeps replicas admitted together within the whole (conservative when alone).
        now = time.monotonic()
        when, calls = self._recent
        return window_capacity(
            self.fallback_rate,
            self._burst,
            self._span_s,
            calls if now - when < self._span_s else 0,
            self._paused_until - now,
            within_s,
            self._waiting + self._reserved,
        )

    def pause(self, seconds: float) -> None:
        """Honour an upstream's Retry-After, in every process."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        self.fallback.pause(seconds)
        if self._state.available:
            task = asyncio.ensure_future(self._share_pause(seconds))
            self._pausing.add(task)
            task.add_done_callback(self._pausing.discard)

    async def _share_pause(self, seconds: float) -> None:
        ms = max(1, int(seconds * 1000))
        with contextlib.suppress(SharedUnavailable):  # the per-process one holds it
            await self._state.run(
                lambda r: self._pause(keys=self._keys[1:], args=[ms], client=r)
            )

    async def acquire(self, max_wait_s: float) -> None:
        """A slot within `max_wait_s`, the wait behind this process's queued callers
        included, or RateLimitExceeded."""
        deadline = time.monotonic() + max_wait_s
        self._waiting += 1
        try:
            async with queued(self._lock, max_wait_s):
                await self._acquire(deadline)
        finally:
            self._waiting -= 1

    def _shared_now(self) -> bool:
        """Redis counts, unless lost, or back for less than a window: the starts each
        process let through meanwhile are in no shared window yet."""
        state = self._state
        return state.available and time.monotonic() - state.back_at >= self._span_s

    async def _count(self, r: redis.Redis, args: list[Any]) -> list[int]:
        replies: list[int] = await self._window(keys=self._keys, args=args, client=r)
        return replies

    async def _acquire(self, deadline: float) -> None:
        span_us = int(self._span_s * 1_000_000)
        burst = self._burst or 0
        share_us = span_us * burst // self._max_calls if burst else 0
        while True:
            wait_us, calls = (
                -1,
                -1,
            )  # -1: the per-process window, at this process's share
            if self._shared_now():
                member = f"{self._me}:{next(self._members)}"
                args = [self._max_calls, span_us, burst, share_us, member]
                with contextlib.suppress(SharedUnavailable):
                    wait_us, calls = await self._state.run(
                        partial(self._count, args=args)
                    )
            if wait_us < 0:
                await self.fallback.acquire(max(0.0, deadline - time.monotonic()))
                return
            now = time.monotonic()
            if calls >= 0:
                self._recent = (now, int(calls))
            if not wait_us:
                self.fallback.count_start()  # remembered, should Redis be lost
                return
            wait = int(wait_us) / 1_000_000
            if now + wait > deadline:
                raise RateLimitExceeded
            await asyncio.sleep(wait)
