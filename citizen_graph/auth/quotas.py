"""Quotas per client: requests and distinct citizens per sliding window, counted before any
upstream call (the enumeration guard of a citizen-lookup API, reliability.md §6).

A request is counted once it passes; a refused one consumes nothing. What is counted is
each identifier an upstream will be asked about (`looked_up`): a fiscal number for DGFiP, a
pivot identity for API Particulier; a citizen asked again within the window counts once, a
request that fetches nothing counts no citizen, and a key giving a fiscal number and an
identity counts both when both are used (nothing proves, before the calls, that they name
the same person). State is per process and bounded by the quotas themselves.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from citizen_graph.errors import RateLimited

Clock = Callable[[], float]


@dataclass(frozen=True)
class Quota:
    citizens: int = 0  # distinct citizens per window; 0 = no limit
    requests: int = 0  # requests per window; 0 = no limit
    window_s: float = 60.0


def looked_up(
    subjects: Iterable[Any], calls: Mapping[str, int], keys: Mapping[str, str]
) -> list[Hashable]:
    """The identifiers the upstreams with `calls` will be asked about; `keys`: per
    upstream, the attribute of a citizen's key it looks people up by."""
    attributes = [keys[source] for source in calls if keys.get(source)]
    found: list[Hashable] = []
    for subject in subjects:
        for attribute in attributes:
            value = getattr(subject, attribute, None)
            if value is not None:
                found.append((attribute, value))
    return found


class Quotas(Protocol):
    """Where quotas are counted: this process (`QuotaBook`) or every process
    (`shared.quotas.SharedQuotas`)."""

    async def count(
        self, client: str, quota: Quota, subjects: Iterable[Hashable]
    ) -> None:
        """Count the request and its citizens, or raise RateLimited (nothing counted)."""


def requests_spent(quota: Quota, wait_s: float) -> RateLimited:
    return RateLimited(
        f"This client's quota of {quota.requests} requests per "
        f"{quota.window_s:g} s is spent.",
        retry_after_s=math.ceil(wait_s),
    )


def citizens_exceeded(quota: Quota, wait_s: float, too_many: bool) -> RateLimited:
    """`too_many`: the request alone asks for more citizens than the quota."""
    return RateLimited(
        f"This client's quota of {quota.citizens} distinct citizens per "
        f"{quota.window_s:g} s would be exceeded.",
        retry_after_s=math.ceil(wait_s),
        max_citizens=quota.citizens if too_many else None,
    )


def share_of(quota: Quota, share: Callable[[int], int]) -> Quota:
    """One process's safe share of a quota counted by several apart; `share`: of one
    limit (`shared.state.SharedState.share`)."""
    return Quota(
        citizens=share(quota.citizens) if quota.citizens else 0,
        requests=share(quota.requests) if quota.requests else 0,
        window_s=quota.window_s,
    )


class QuotaBook:
    """Each client's recent requests and citizens; `admit` refuses or counts a request."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._requests: dict[str, deque[float]] = {}
        self._citizens: dict[str, OrderedDict[Hashable, float]] = {}

    async def count(
        self, client: str, quota: Quota, subjects: Iterable[Hashable]
    ) -> None:
        self.admit(client, quota, subjects)

    def admit(self, client: str, quota: Quota, subjects: Iterable[Hashable]) -> None:
        """Count the request and its citizens, or raise RateLimited (nothing counted)."""
        now = self._clock()
        requests = self._requests.setdefault(client, deque())
        seen = self._citizens.setdefault(client, OrderedDict())
        _forget(requests, seen, now - quota.window_s)
        if quota.requests and len(requests) >= quota.requests:
            wait = requests[-quota.requests] + quota.window_s - now
            raise requests_spent(quota, wait)
        new = [s for s in dict.fromkeys(subjects) if s not in seen]
        if quota.citizens and len(seen) + len(new) > quota.citizens:
            wait = _citizens_wait(seen, len(new), quota, now)
            raise citizens_exceeded(quota, wait, too_many=len(new) > quota.citizens)
        requests.append(now)
        for subject in dict.fromkeys(subjects):
            seen.pop(subject, None)
            seen[subject] = now  # most recent last


def _forget(
    requests: deque[float], seen: OrderedDict[Hashable, float], before: float
) -> None:
    while requests and requests[0] <= before:
        requests.popleft()
    while seen and next(iter(seen.values())) <= before:
        seen.popitem(last=False)


def _citizens_wait(
    seen: OrderedDict[Hashable, float], new: int, quota: Quota, now: float
) -> int:
    """Seconds until enough citizens leave the window for `new` to fit (a whole window
    when `new` alone exceeds the quota)."""
    excess = len(seen) + new - quota.citizens
    if new > quota.citizens or excess > len(seen):
        return math.ceil(quota.window_s)
    times = list(seen.values())
    return math.ceil(times[excess - 1] + quota.window_s - now)
