"""What an upstream declares once: its settings, its operations and how its connector opens.

Each connector module ends with one `UPSTREAM = Upstream(...)`; `connectors/__init__.py`
lists them in `UPSTREAMS`, and everything that used to keep its own list reads that:
the cross-request cache (an operation's TTL and what its key includes), the loaders, the
settings' start-up checks, `/readyz` and `/metrics` (one circuit per upstream), and
`point_at_sandbox()` (where the sandbox serves it). Adding an upstream is one connector
module, one registration here, and its loader and schema fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from citizen_graph.access import Access
from citizen_graph.settings import CacheSettings, Settings, UpstreamSettings


@dataclass(frozen=True)
class Operation:
    """One kind of upstream call, as the cross-request cache keeps its answers."""

    name: str  # e.g. "tax_history": the journal's, the cache's and the metrics' name
    source: str  # the upstream's name
    ttl: Callable[[CacheSettings], float]  # how long an answer may be served again
    # Fetched with the caller's habilitation (its credential, its SIRET): the cache key
    # includes the habilitation, so one is never served what another fetched.
    per_caller: bool = False

    def ttl_s(self, settings: CacheSettings) -> float:
        return self.ttl(settings)


@dataclass(frozen=True)
class Upstream:
    name: str  # "dgfip": the settings section, the circuit's and the audit's source
    operations: tuple[Operation, ...]
    # Opens the connector (its `client` attribute is the upstream's `UpstreamClient`).
    connect: Callable[[Settings], Any]
    sandbox_path: str  # where the sandbox serves it, e.g. "/dgfip"
    # The public id of the credential a habilitation uses here (its rate-limit bucket).
    credential: Callable[[Access], str] = lambda access: ""
    batched: bool = False  # one call per request whatever the citizens (BAN's CSV)
    # The citizen key it looks a person up by ("fiscal_number", "identity"; "": none).
    citizen_key: str = ""

    def settings(self, settings: Settings) -> UpstreamSettings:
        section: UpstreamSettings = getattr(settings, self.name)
        return section
