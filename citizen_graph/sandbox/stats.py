"""Call statistics per simulated upstream (`GET /_sandbox/stats`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# Routes are counted under their template (`GET /dgfip/…/spi/{spi}/…`), never a real
# identifier; `credentials` counts the calls made with each accepted credential under its public
# id (a token's `jti`, an OAuth `client_id`), never a secret; `max_in_flight` is the peak of
# concurrent requests, to check client throttling.


@dataclass
class UpstreamStats:
    calls: int = 0
    routes: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    credentials: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0

    def start(self, route: str) -> None:
        self.calls += 1
        self.routes[route] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def authenticated(self, credential: str) -> None:
        self.credentials[credential] += 1

    def finish(self, status: int | None) -> None:
        self.in_flight -= 1
        if status is not None:
            self.statuses[str(status)] += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "routes": dict(sorted(self.routes.items())),
            "statuses": dict(sorted(self.statuses.items())),
            "credentials": dict(sorted(self.credentials.items())),
            "max_in_flight": self.max_in_flight,
        }


class Stats:
    def __init__(self, upstreams: Sequence[str]) -> None:
        self._names = tuple(upstreams)
        self._upstreams = {name: UpstreamStats() for name in self._names}

    def __getitem__(self, upstream: str) -> UpstreamStats:
        return self._upstreams[upstream]

    def reset(self) -> None:
        """Zero the counters; requests still in flight keep counting on the old ones."""
        self._upstreams = {name: UpstreamStats() for name in self._names}

    def as_json(self) -> dict[str, Any]:
        return {"upstreams": {name: s.as_json() for name, s in self._upstreams.items()}}
