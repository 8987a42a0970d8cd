"""The registry of simulated upstreams: the app's routes, `/_sandbox/stats`,
`/_sandbox/faults/{name}`, `/_sandbox/openapi/{name}.json`, `/_sandbox/credentials` and the
latency profiles all read it; no other place lists the upstreams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from citizen_graph.sandbox.api_particulier import API_PARTICULIER
from citizen_graph.sandbox.ban import BAN
from citizen_graph.sandbox.dgfip import DGFIP
from citizen_graph.sandbox.latency import PROFILES, LatencyProfile
from citizen_graph.sandbox.upstream import SimulatedUpstream

# How to add an upstream (say France Travail, `/france-travail`):
#
# 1. Write its module, `france_travail.py`, with a class that has
#    - `routes()`: each built by `runtime.route("france_travail", METHOD, "/france-travail/…",
#      handler, self.failure)`, the handler calling `runtime.work("france_travail")` where the
#      real service spends its time and `runtime.authenticated(request, public_id)` once it has
#      accepted the caller's credential;
#    - `failure(request, status)`: `status` in the upstream's own error format;
#    - `credentials()`: its entry in `/_sandbox/credentials` (None if it needs none);
#    - `admin_routes()`: its `/_sandbox/…` helpers (often `[]`);
#    - a `build(world)` classmethod (`world`: the population, runtime and date);
#    and, at its end, its declaration:
#
#        FRANCE_TRAVAIL = SimulatedUpstream(
#            name="france_travail",
#            prefix="/france-travail",
#            build=FranceTravail.build,
#            openapi=france_travail_document,  # () -> OpenAPI 3 dict (helpers: openapi.py)
#            latency={"realistic": Latency(Lognormal(0.3, 0.5))},
#        )
#
# 2. Register it: append `FRANCE_TRAVAIL` to `REGISTRY` below.
#
# The app then serves its routes and a 404 in its format for any other path under its prefix;
# stats, faults, OpenAPI and credentials know it by `name`. A new API Particulier provider (a
# route under `/api-particulier/v3/…`) is rather a route of `api_particulier.py`.

REGISTRY: tuple[SimulatedUpstream, ...] = (DGFIP, API_PARTICULIER, BAN)


def check(registry: Sequence[SimulatedUpstream]) -> None:
    """Raise ValueError unless names and prefixes are unique and latency profiles known."""
    for attribute in ("name", "prefix"):
        values = [getattr(u, attribute) for u in registry]
        if len(set(values)) != len(values):
            raise ValueError(f"Two simulated upstreams share a {attribute}.")
    for upstream in registry:
        unknown = set(upstream.latency) - set(PROFILES)
        if unknown or not upstream.prefix.startswith("/"):
            raise ValueError(f"{upstream.name}: bad prefix or latency profile.")


def latency_profile(
    name: str, registry: Sequence[SimulatedUpstream] = REGISTRY
) -> LatencyProfile:
    """The profile `name` (one of PROFILES), made of each upstream's own entry."""
    if name not in PROFILES:
        raise ValueError(f"latency must be one of {', '.join(PROFILES)}")
    entries = {u.name: u.latency[name] for u in registry if name in u.latency}
    return LatencyProfile(name, MappingProxyType(entries))


LATENCY_PROFILES: Mapping[str, LatencyProfile] = MappingProxyType(
    {name: latency_profile(name) for name in PROFILES}
)
