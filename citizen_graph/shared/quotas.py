"""The clients' quotas, counted in Redis for every process at once.

The same rule as `auth.quotas.QuotaBook` (requests and distinct citizens per sliding window;
a refused request counts nothing), in one Lua script, atomic in Redis and timed by its clock.
Citizens are stored as keyed hashes (`SharedState.digest`), never as identifiers. When Redis
is lost, this process counts alone at its safe share of each quota (`share_of`).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable
from itertools import count

import redis.asyncio as redis
from redis.commands.core import AsyncScript

from citizen_graph.auth.quotas import (
    Quota,
    QuotaBook,
    citizens_exceeded,
    requests_spent,
    share_of,
)
from citizen_graph.shared.state import SharedState, SharedUnavailable

# KEYS: the client's requests, its citizens; ARGV: window (ms), max requests, max citizens
# (0: none), this request's unique member, then the citizens' hashes. Returns {0} when
# counted, {1, wait ms} requests spent, {2, wait ms} citizens exceeded, {3, wait ms} the
# request alone exceeds the citizens' quota.
QUOTA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, max_requests, max_citizens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if max_requests > 0 then
  local n = redis.call('ZCARD', KEYS[1])
  if n >= max_requests then
    local r = redis.call('ZRANGE', KEYS[1], n - max_requests, n - max_requests, 'WITHSCORES')
    return {1, tonumber(r[2]) + window - now}
  end
end
if max_citizens > 0 then
  local new = 0
  for i = 5, #ARGV do
    if not redis.call('ZSCORE', KEYS[2], ARGV[i]) then new = new + 1 end
  end
  local seen = redis.call('ZCARD', KEYS[2])
  if seen + new > max_citizens then
    if new > max_citizens then return {3, window} end
    local excess = seen + new - max_citizens
    local r = redis.call('ZRANGE', KEYS[2], excess - 1, excess - 1, 'WITHSCORES')
    return {2, tonumber(r[2]) + window - now}
  end
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
if #ARGV >= 5 then
  for i = 5, #ARGV do redis.call('ZADD', KEYS[2], now, ARGV[i]) end
  redis.call('PEXPIRE', KEYS[2], window)
end
return {0, 0}
"""


class SharedQuotas:
    """`auth.quotas.Quotas` for every process sharing the Redis (module docstring)."""

    def __init__(self, state: SharedState) -> None:
        self._state = state
        self._script: AsyncScript = state.redis.register_script(QUOTA)
        self._local = QuotaBook()
        self._me = os.urandom(6).hex()
        self._requests = count()

    async def count(
        self, client: str, quota: Quota, subjects: Iterable[Hashable]
    ) -> None:
        subjects = list(dict.fromkeys(subjects))
        if self._state.available:
            try:
                outcome, wait_ms = await self._state.run(
                    lambda r: self._run(r, client, quota, subjects)
                )
            except SharedUnavailable:
                pass
            else:
                if outcome == 1:
                    raise requests_spent(quota, wait_ms / 1000)
                if outcome in (2, 3):
                    raise citizens_exceeded(quota, wait_ms / 1000, outcome == 3)
                return
        self._local.admit(client, share_of(quota, self._state.share), subjects)

    async def _run(
        self, r: redis.Redis, client: str, quota: Quota, subjects: list[Hashable]
    ) -> list[int]:
        name = self._state.name("quota", client)
        args: list[str | int] = [
            int(quota.window_s * 1000),
            quota.requests,
            quota.citizens,
            f"{self._me}:{next(self._requests)}",
        ]
        # Keyed by client too: two clients' sets never show they asked for one person.
        args += [self._state.digest(f"{client}\x1f{subject!r}") for subject in subjects]
        replies: list[int] = await self._script(
            keys=[name + ":requests", name + ":citizens"], args=args, client=r
        )
        return replies
