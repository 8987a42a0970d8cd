"""Client-side protections every upstream gets: circuit breaker, rate limiter, retry budget.

No third-party library here on purpose: each is a few lines with asyncio, and the numbers come
from reliability.md §3 (breaker 5 failures / 30 s, ≤ 1 retry within a 20 % budget).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; one probe is let through after `open_s`."""

    def __init__(self, threshold: int, open_s: float) -> None:
        self._threshold = threshold
        self._open_s = open_s
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if time.monotonic() - self._opened_at >= self._open_s:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def abandon(self) -> None:
        """A probe that never reached the upstream (no slot, no time): let another try."""
        self._probing = False

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failure(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            self._opened_at = time.monotonic()
            self._probing = False


class RateLimitExceeded(Exception):
    """Waiting for a slot would overrun the caller's deadline."""


class SlidingWindowLimiter:
    """At most `max_calls` starts in any rolling window (plus a margin for network skew).

    A token bucket would allow a burst of `max_calls` on top of the refill and break an
    upstream that counts a rolling window, so the limiter keeps the send times instead.
    """

    def __init__(self, max_calls: int, window_s: float = 1.0, margin_s: float = 0.1):
        self._max_calls = max_calls
        self._span = window_s + margin_s
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        """Honour an upstream's Retry-After: no call at all before it has passed."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def acquire(self, max_wait_s: float) -> None:
        async with self._lock:
            wait = self._wait_s(time.monotonic())
            if wait > max_wait_s:
                raise RateLimitExceeded
            if wait > 0:
                await asyncio.sleep(wait)
            now = time.monotonic()
            while self._sent and self._sent[0] <= now - self._span:
                self._sent.popleft()
            self._sent.append(now)

    def _wait_s(self, now: float) -> float:
        wait = self._paused_until - now
        if len(self._sent) >= self._max_calls:
            wait = max(wait, self._sent[-self._max_calls] + self._span - now)
        return max(wait, 0.0)


class RetryBudget:
    """Each request earns `ratio` of a retry; a retry spends one (SRE book: ≤ 10–20 %)."""

    def __init__(self, ratio: float = 0.2, cap: float = 10.0) -> None:
        self._ratio = ratio
        self._cap = cap
        self._balance = cap

    def deposit(self) -> None:
        self._balance = min(self._cap, self._balance + self._ratio)

    def withdraw(self) -> bool:
        if self._balance < 1.0:
            return False
        self._balance -= 1.0
        return True
