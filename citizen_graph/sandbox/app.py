"""The sandbox app factory: builds the population and every registered simulated upstream of
one app (`registry.py`).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from citizen_graph.sandbox.admin import Admin
from citizen_graph.sandbox.agents import AgentIdentityProvider
from citizen_graph.sandbox.population import Population
from citizen_graph.sandbox.registry import REGISTRY, check, latency_profile
from citizen_graph.sandbox.runtime import Runtime
from citizen_graph.sandbox.upstream import SimulatedUpstream, Upstream, World

# Nothing is global: the population, statistics, faults, tokens and rate-limit windows hang off
# the app built here (`app.state.sandbox`).

DEFAULT_SEED = 20261128


@dataclass(frozen=True, slots=True)
class Sandbox:
    """The parts of one sandbox app, for tests and tools that embed it."""

    population: Population
    runtime: Runtime
    today: datetime.date

    def reset(self) -> None:
        """Zero the statistics, clear rate-limit windows and injected faults."""
        self.runtime.reset()
        self.runtime.faults.clear()


def create_sandbox_app(
    *,
    latency: str = "none",
    seed: int = DEFAULT_SEED,
    households: int = 10_000,
    today: datetime.date | None = None,
    upstreams: Sequence[SimulatedUpstream] = REGISTRY,
    rate_limits: Mapping[str, int] | None = None,
) -> Starlette:
    """The simulated upstreams (by default `/dgfip`, `/api-particulier`, `/ban`), plus
    `/_sandbox`.

    `latency`: one of LATENCY_PROFILES; `today`: the date the upstreams believe it is
    (available tax years, current QF month, academic year); default: the real date;
    `rate_limits`: per upstream, its per-client limit instead of the real one (0: none).
    """
    check(upstreams)
    profile = latency_profile(latency, upstreams)
    today = today or datetime.date.today()
    population = Population.generate(seed, households)
    runtime = Runtime(profile, [u.name for u in upstreams])
    world = World(population, runtime, today, dict(rate_limits or {}))
    built = {u.name: u.build(world) for u in upstreams}
    routes: list[BaseRoute] = []
    for declaration in upstreams:
        routes += _routes(declaration, built[declaration.name], runtime)
    admin = Admin(population, runtime, upstreams, built)
    agents = AgentIdentityProvider()  # /_sandbox/jwks.json, /_sandbox/agent-tokens
    app = Starlette(routes=[*routes, *admin.routes(), *agents.routes()])
    app.state.sandbox = Sandbox(population, runtime, today)
    return app


def _routes(
    declaration: SimulatedUpstream, upstream: Upstream, runtime: Runtime
) -> list[BaseRoute]:
    """The upstream's routes, then a 404 in its own format for any other path of its prefix."""
    not_found = runtime.not_found(
        declaration.name, declaration.prefix, upstream.failure
    )
    return [*upstream.routes(), not_found]
