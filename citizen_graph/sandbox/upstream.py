"""What a simulated upstream declares (`SimulatedUpstream`) and what it builds for one app
(`Upstream`); `registry.py` lists the declarations that the app, `/_sandbox` and the latency
profiles read.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from citizen_graph.sandbox.latency import Latency
from citizen_graph.sandbox.population import Population
from citizen_graph.sandbox.runtime import Runtime

Document = dict[str, Any]  # an OpenAPI 3 document


@dataclass(frozen=True, slots=True)
class World:
    """What every upstream of one app is built from."""

    population: Population
    runtime: Runtime
    today: datetime.date  # the date the upstreams believe it is
    # Per upstream name, its per-client rate limit instead of the real service's
    # (requests per second; 0: none), e.g. {"ban": 0} for a benchmark of gateways alone.
    rate_limits: Mapping[str, int] = field(default_factory=dict)


class Upstream(Protocol):
    """One simulated upstream, built for one app."""

    def routes(self) -> list[BaseRoute]:
        """Its routes, each built by `Runtime.route` (counted, faulty on demand); every path
        under the declared prefix. The app adds the catch-all 404 of the prefix."""
        ...

    def failure(self, request: Request, status: int) -> Response:
        """`status` in the upstream's own error format: injected faults and unknown paths."""
        ...

    def credentials(self) -> Mapping[str, str] | None:
        """Its entry in `GET /_sandbox/credentials` (None: it needs none)."""
        ...

    def admin_routes(self) -> list[BaseRoute]:
        """Its helpers under `/_sandbox/` (never counted, never faulty)."""
        ...


@dataclass(frozen=True, slots=True)
class SimulatedUpstream:
    """The declaration of one simulated upstream."""

    name: str  # its key in /_sandbox/stats, /_sandbox/faults/{name}, /_sandbox/openapi/{name}.json
    prefix: str  # every path it serves starts with it: "/dgfip"
    build: Callable[[World], Upstream]
    openapi: Callable[[], Document]
    # Latency profile name → how long it takes there; a profile it does not list adds nothing.
    latency: Mapping[str, Latency] = field(default_factory=dict)
