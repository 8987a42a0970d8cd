"""The upstream connectors, one per State API, opened and closed together.

`UPSTREAMS` is the registry: each connector module declares its `UPSTREAM` (settings section,
operations, how it connects, where the sandbox serves it; see `upstream.py`).
`open_connectors(settings)` opens one long-lived client per upstream for the app's lifespan;
`Connectors` is what the loaders receive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import httpx

from citizen_graph.connectors import api_particulier, ban, dgfip
from citizen_graph.connectors._client import UpstreamClient
from citizen_graph.connectors.api_particulier import ApiParticulierConnector
from citizen_graph.connectors.ban import BanConnector
from citizen_graph.connectors.dgfip import DgfipConnector
from citizen_graph.connectors.upstream import Operation, Upstream
from citizen_graph.errors import UpstreamUnavailable
from citizen_graph.settings import Settings

__all__ = [
    "UPSTREAMS",
    "ApiParticulierConnector",
    "BanConnector",
    "Connectors",
    "DgfipConnector",
    "Operation",
    "Upstream",
    "fetch_sandbox_credentials",
    "open_connectors",
    "operations",
    "point_at_sandbox",
]

UPSTREAMS: tuple[Upstream, ...] = (
    dgfip.UPSTREAM,
    api_particulier.UPSTREAM,
    ban.UPSTREAM,
)


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

    def open_client_circuits(self) -> dict[str, int]:
        """Per upstream, how many clients have their own circuit open (or half-open)."""
        return {
            client.source: client.circuits.open_clients() for client in self.clients
        }


@asynccontextmanager
async def open_connectors(settings: Settings) -> AsyncIterator[Connectors]:
    opened = {upstream.name: upstream.connect(settings) for upstream in UPSTREAMS}
    clients = tuple(connector.client for connector in opened.values())
    try:
        yield Connectors(clients=clients, **opened)
    finally:
        for client in clients:
            await client.aclose()


def point_at_sandbox(
    settings: Settings, url: str, credentials: Mapping[str, Mapping[str, str]]
) -> Settings:
    """Every upstream's base URL and credentials at a sandbox (`GET /_sandbox/credentials`):
    the one place that puts each registered upstream where the sandbox serves it."""
    url = url.rstrip("/")
    sections = {
        upstream.name: upstream.at_sandbox(
            upstream.settings(settings), url + upstream.sandbox_path, credentials
        )
        for upstream in UPSTREAMS
    }
    return replace(settings, **sections)


async def fetch_sandbox_credentials(sandbox_url: str) -> dict[str, dict[str, str]]:
    """The sandbox's own upstream credentials (sandbox mode only)."""
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.get(
                sandbox_url.rstrip("/") + "/_sandbox/credentials"
            )
            response.raise_for_status()
            body: dict[str, dict[str, str]] = response.json()
            return body
    except (httpx.HTTPError, ValueError):
        raise UpstreamUnavailable(
            "sandbox", "The sandbox could not be reached."
        ) from None
