"""The sandbox app factory: builds the population and every simulated upstream of one app.

Nothing is global: the population, statistics, faults, tokens and rate-limit windows hang off
the app built here (`app.state.sandbox`).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from starlette.applications import Starlette

from citizen_graph.sandbox.admin import Admin
from citizen_graph.sandbox.api_particulier import ApiParticulier
from citizen_graph.sandbox.ban import Ban
from citizen_graph.sandbox.dgfip import Dgfip
from citizen_graph.sandbox.geocoder import Geocoder
from citizen_graph.sandbox.latency import LATENCY_PROFILES
from citizen_graph.sandbox.population import Population
from citizen_graph.sandbox.runtime import Runtime

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
) -> Starlette:
    """The simulated upstreams under `/dgfip`, `/api-particulier`, `/ban`, plus `/_sandbox`.

    `latency`: one of LATENCY_PROFILES; `today`: the date the upstreams believe it is
    (available tax years, current QF month, academic year); default: the real date.
    """
    if latency not in LATENCY_PROFILES:
        raise ValueError(f"latency must be one of {', '.join(LATENCY_PROFILES)}")
    today = today or datetime.date.today()
    population = Population.generate(seed, households)
    runtime = Runtime(LATENCY_PROFILES[latency])
    dgfip = Dgfip(population, runtime, today)
    particulier = ApiParticulier(population, runtime, today)
    ban = Ban(Geocoder(h.address for h in population.households), runtime)
    admin = Admin(population, runtime, dgfip, particulier.tokens)
    app = Starlette(
        routes=[*dgfip.routes(), *particulier.routes(), *ban.routes(), *admin.routes()]
    )
    app.state.sandbox = Sandbox(population, runtime, today)
    return app
