"""Admission: refuse up front a request whose upstream calls cannot fit its deadline.

The decision counts, per upstream, the calls a request will make (citizens × fields fetched
from it). Each upstream client says how many calls of the habilitation's credential can be
answered in the time left: its own rate bucket (API Particulier: 20 calls/s per token) and
the connection slots all share, at a pessimistic estimate of an answer's time, after the
calls already under way or reserved. A request needing more is refused before any call,
with the largest number of citizens with the same selection that fits (`maxCitizens`),
rather than half-served by timeouts; one that fits reserves its calls, then waits for its
slots.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol

from citizen_graph import request_scope
from citizen_graph.access import Access
from citizen_graph.errors import RateLimited


class Buckets(Protocol):
    """The upstreams' buckets as admission sees them (`connectors.Connectors`)."""

    def capacity(self, source: str, access: Access, within_s: float) -> int | None:
        """Calls that can be answered within `within_s`; None: not counted (batched)."""

    def reserve(self, source: str, access: Access, calls: int) -> None:
        """Set calls aside for the current request."""


class Admission:
    def __init__(self, buckets: Buckets, deadline_s: float) -> None:
        self._buckets = buckets
        self._deadline_s = deadline_s

    def check(self, calls: Mapping[str, int], citizens: int, access: Access) -> None:
        """Raise RateLimited when some upstream's calls do not fit the time left; else
        reserve them, so that concurrent requests of one habilitation cannot together
        overrun what each was admitted for."""
        within_s = request_scope.time_left(self._deadline_s)
        for source, needed in calls.items():
            capacity = self._buckets.capacity(source, access, within_s)
            if capacity is None or needed <= capacity:
                continue
            per_citizen = max(1, math.ceil(needed / max(1, citizens)))
            fits = capacity // per_citizen
            raise RateLimited(
                f"The request needs {needed} calls to {source}; at this habilitation's "
                f"rate, at most {fits} citizens with the same selection fit in one "
                "request now.",
                retry_after_s=1,
                max_citizens=fits,
            )
        for source, needed in calls.items():
            self._buckets.reserve(source, access, needed)
