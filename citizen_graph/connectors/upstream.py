"""What an upstream declares once: its settings, its operations and how its connector opens.

Each connector module ends with one `UPSTREAM = Upstream(...)`; `connectors/__init__.py`
lists them in `UPSTREAMS`, and everything that used to keep its own list reads that:
the cross-request cache (an operation's TTL and what its key includes), the loaders, the
settings' start-up checks, `/readyz` and `/metrics` (one circuit per upstream), and
`point_at_sandbox()` (where the sandbox serves it). Adding an upstream is one connector
module, one registration here, and its loader and schema fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from citizen_graph.settings import CacheSettings, Settings, UpstreamSettings


@dataclass(frozen=True)
class Operation:
    """One kind of upstream call, as the cross-request cache keeps its answers."""

    name: str  # e.g. "tax_history": the journal's, the cache's and the metrics' name
    source: str  # the upstream's name
    ttl: Callable[[CacheSettings], float]  # how long an answer may be served again
    # The answer depends on who asks (API Particulier: the recipient SIRET), so the
    # cache key includes the caller: one caller is never served another's answer.
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
    # The settings pointing at the sandbox, given its URL and `/_sandbox/credentials`.
    at_sandbox: Callable[[Any, str, Mapping[str, Mapping[str, str]]], Any] = (
        lambda section, url, credentials: replace(section, base_url=url)
    )

    def settings(self, settings: Settings) -> UpstreamSettings:
        section: UpstreamSettings = getattr(settings, self.name)
        return section
