"""Rolling-window rate limits: API Particulier (20 per second per token) and BAN (50 per second
per IP, then refused for 5 s)."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int  # whole seconds, at least 1, when refused
    reset_epoch: int  # Unix time at which a slot frees up

    def headers(self) -> dict[str, str]:
        """API Particulier's `RateLimit-*` headers (and `Retry-After` when refused)."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_epoch),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


class RollingWindow:
    """At most `limit` requests per key in any `window_s`; beyond, refused for `penalty_s`
    (or until the window frees a slot when there is no penalty)."""

    def __init__(
        self, limit: int, window_s: float = 1.0, penalty_s: float = 0.0
    ) -> None:
        self.limit = limit
        self._window_s = window_s
        self._penalty_s = penalty_s
        self._hits: dict[str, deque[float]] = {}
        self._banned_until: dict[str, float] = {}

    def hit(self, key: str) -> Verdict:
        """Count one request of `key`, unless it is refused."""
        now = time.monotonic()
        hits = self._prune(key, now)
        banned = self._banned_until.get(key, 0.0)
        if banned <= now and len(hits) >= self.limit and self._penalty_s:
            banned = self._banned_until[key] = now + self._penalty_s
        if banned > now or len(hits) >= self.limit:
            free_at = banned if banned > now else hits[0] + self._window_s
            return self._verdict(False, hits, now, free_at)
        hits.append(now)
        return self._verdict(True, hits, now, hits[0] + self._window_s)

    def peek(self, key: str) -> Verdict:
        """The state of `key` without counting a request."""
        now = time.monotonic()
        hits = self._prune(key, now)
        free_at = hits[0] + self._window_s if hits else now
        return self._verdict(len(hits) < self.limit, hits, now, free_at)

    def clear(self) -> None:
        self._hits.clear()
        self._banned_until.clear()

    def _prune(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self._window_s:
            hits.popleft()
        return hits

    def _verdict(
        self, allowed: bool, hits: deque[float], now: float, free_at: float
    ) -> Verdict:
        wait = max(0.0, free_at - now)
        return Verdict(
            allowed,
            self.limit,
            max(0, self.limit - len(hits)),
            max(1, math.ceil(wait)),
            math.ceil(time.time() + wait),
        )
