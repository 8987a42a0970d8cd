"""The upstream connectors, one per State API, opened and closed together.

`UPSTREAMS` is the registry: each connector module declares its `UPSTREAM` (settings section,
operations, how it connects, where the sandbox serves it; see `upstream.py`).
`open_connectors(settings)` opens one long-lived client per upstream for the app's lifespan;
`Connectors` is what the loaders receive.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx

from citizen_graph.access import Access
from citizen_graph.connectors import api_particulier, ban, dgfip
from citizen_graph.connectors._client import UpstreamClient
from citizen_graph.connectors._resilience import (
    Limiter,
    RateLimitExceeded,
    SlidingWindowLimiter,
    queued,
    window_capacity,
)
from citizen_graph.connectors.api_particulier import ApiParticulierConnector
from citizen_graph.connectors.ban import BanConnector
from citizen_graph.connectors.dgfip import DgfipConnector
from citizen_graph.connectors.upstream import Operation, Upstream
from citizen_graph.errors import UpstreamUnavailable
from citizen_graph.settings import Settings

__all__ = [
    "CITIZEN_KEYS",
    "UPSTREAMS",
    "ApiParticulierConnector",
    "BanConnector",
    "Connectors",
    "DgfipConnector",
    "Limiter",
    "Operation",
    "RateLimitExceeded",
    "SlidingWindowLimiter",
    "Upstream",
    "mint_sandbox_credentials",
    "open_connectors",
    "operations",
    "point_at_sandbox",
    "queued",
    "window_capacity",
]

UPSTREAMS: tuple[Upstream, ...] = (
    dgfip.UPSTREAM,
    api_particulier.UPSTREAM,
    ban.UPSTREAM,
)


# Per upstream, the attribute of a citizen's key it looks people up by (quotas count it).
CITIZEN_KEYS = {u.name: u.citizen_key for u in UPSTREAMS if u.citizen_key}


def operations() -> tuple[Operation, ...]:
    """Every upstream's operations, as the cross-request cache keeps them."""
    return tuple(op for upstream in UPSTREAMS for op in upstream.operations)


@dataclass(frozen=True)
class Connectors:
    dgfip: DgfipConnector
    api_particulier: ApiParticulierConnector
    ban: BanConnector
    clients: tuple[UpstreamClient, ...]

    def circuit_states(self) -> dict[str, str]:
        """Each upstream's shared circuit, the one that cuts every client."""
        return {client.source: client.breaker.state for client in self.clients}

    def capacity(self, source: str, access: Access, within_s: float) -> int | None:
        """Calls to `source` with `access`'s credential that can be answered within
        `within_s` (None: one batched call per request, whatever the citizens)."""
        upstream = _registered(source)
        if upstream.batched:
            return None
        client: UpstreamClient = getattr(self, source).client
        return client.capacity(upstream.credential(access), within_s)

    def reserve(self, source: str, access: Access, calls: int) -> None:
        """Set `calls` aside for the current request in `access`'s bucket."""
        upstream = _registered(source)
        if not upstream.batched:
            client: UpstreamClient = getattr(self, source).client
            client.reserve(upstream.credential(access), calls)

    def open_client_circuits(self) -> dict[str, int]:
        """Per upstream, how many clients have their own circuit open (or half-open)."""
        return {
            client.source: client.circuits.open_clients() for client in self.clients
        }


def _registered(source: str) -> Upstream:
    return next(u for u in UPSTREAMS if u.name == source)


@asynccontextmanager
async def open_connectors(settings: Settings) -> AsyncIterator[Connectors]:
    opened = {upstream.name: upstream.connect(settings) for upstream in UPSTREAMS}
    clients = tuple(connector.client for connector in opened.values())
    try:
        yield Connectors(clients=clients, **opened)
    finally:
        for client in clients:
            await client.aclose()


def point_at_sandbox(settings: Settings, url: str) -> Settings:
    """Every upstream's base URL at a sandbox: the one place that puts each registered
    upstream where the sandbox serves it (credentials are the habilitations')."""
    url = url.rstrip("/")
    sections: dict[str, Any] = {
        upstream.name: replace(
            upstream.settings(settings), base_url=url + upstream.sandbox_path
        )
        for upstream in UPSTREAMS
    }
    return replace(settings, **sections)


Minted = tuple[str | None, tuple[str, str] | None]  # token, (client_id, client_secret)


async def mint_sandbox_credentials(
    sandbox_url: str,
    demands: Sequence[tuple[str | None, Sequence[str] | None, Sequence[str] | None]],
) -> list[Minted]:
    """For each (name, API Particulier scopes, DGFiP scopes), a token and a DGFiP OAuth
    client minted by the sandbox (sandbox mode only); None where not asked. Unnamed, they
    are fresh; named, every process asking gets the same (replicas sharing a Redis)."""
    base = sandbox_url.rstrip("/") + "/_sandbox"

    async def mint(
        client: httpx.AsyncClient, path: str, name: str | None, scopes: Sequence[str]
    ) -> Any:
        demand: dict[str, Any] = {"scopes": list(scopes)}
        if name is not None:
            demand["name"] = name
        response = await client.post(f"{base}{path}", json=demand)
        response.raise_for_status()
        return response.json()

    async def one(
        client: httpx.AsyncClient,
        name: str | None,
        particulier: Sequence[str] | None,
        dgfip: Sequence[str] | None,
    ) -> Minted:
        token = oauth = None
        if particulier is not None:
            path = "/api-particulier/tokens"
            token = str((await mint(client, path, name, particulier))["token"])
        if dgfip is not None:
            body = await mint(client, "/dgfip/clients", name, dgfip)
            oauth = (str(body["client_id"]), str(body["client_secret"]))
        return token, oauth

    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            return list(await asyncio.gather(*(one(client, *d) for d in demands)))
    except (httpx.HTTPError, ValueError, KeyError):
        raise UpstreamUnavailable(
            "sandbox", "The sandbox could not be reached."
        ) from None
