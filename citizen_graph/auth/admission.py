"""Admission: refuse up front a request whose upstream calls cannot fit its deadline.

The decision counts, per upstream, the calls a request will make (citizens × fields fetched
from it). For an upstream limited per credential (API Particulier: 20 calls/s per token),
the habilitation's own bucket says how many calls can start before the deadline; a request
needing more is refused before any call, with the largest number of citizens with the same
selection that fits (`maxCitizens`), rather than half-served by timeouts. One that fits waits
for its slots.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from citizen_graph.access import Access
from citizen_graph.errors import RateLimited

# (source, access, seconds) → how many calls the habilitation's bucket lets start within
# that time, or None when the upstream has no per-credential limit (or calls are batched).
Capacity = Callable[[str, Access, float], int | None]
# Time kept, before the deadline, for the last calls to be answered (a quarter of a short
# deadline at most).
ANSWER_RESERVE_S = 1.5


class Admission:
    def __init__(self, capacity: Capacity, deadline_s: float) -> None:
        self._capacity = capacity
        self._window_s = deadline_s - min(ANSWER_RESERVE_S, deadline_s / 4)

    def check(self, calls: Mapping[str, int], citizens: int, access: Access) -> None:
        """Raise RateLimited when some upstream's calls do not fit the deadline."""
        for source, needed in calls.items():
            capacity = self._capacity(source, access, self._window_s)
            if capacity is None or needed <= capacity:
                continue
            per_citizen = max(1, math.ceil(needed / max(1, citizens)))
            fits = capacity // per_citizen
            raise RateLimited(
                f"The request needs {needed} calls to {source}; at this habilitation's "
                f"rate, at most {fits} citizens with the same selection fit in one "
                "request.",
                retry_after_s=1,
                max_citizens=fits,
            )
