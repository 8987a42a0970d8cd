"""The upstream connectors, one per State API, opened and closed together.

`UPSTREAMS` is the registry: each connector module declares its `UPSTREAM` (settings section,
operations, how it connects, where the sandbox serves it; see `upstream.py`).
`open_connectors(settings)` opens one long-lived client per upstream for the app's lifespan;
`Connectors` is what the loaders receive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

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
    "mint_sandbox_credentials",
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


async def mint_sandbox_credentials(
    sandbox_url: str,
    api_particulier: Sequence[str] | None,
    dgfip: Sequence[str] | None,
) -> tuple[str | None, tuple[str, str] | None]:
    """A fresh API Particulier token and DGFiP OAuth client with these scopes, minted by
    the sandbox for one demo habilitation (sandbox mode only); None where not asked."""
    base = sandbox_url.rstrip("/") + "/_sandbox"
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            token = client_credentials = None
            if api_particulier is not None:
                response = await client.post(
                    f"{base}/api-particulier/tokens",
                    json={"scopes": list(api_particulier)},
                )
                response.raise_for_status()
                token = str(response.json()["token"])
            if dgfip is not None:
                response = await client.post(
                    f"{base}/dgfip/clients", json={"scopes": list(dgfip)}
                )
                response.raise_for_status()
                body = response.json()
                client_credentials = (
                    str(body["client_id"]),
                    str(body["client_secret"]),
                )
            return token, client_credentials
    except (httpx.HTTPError, ValueError, KeyError):
        raise UpstreamUnavailable(
            "sandbox", "The sandbox could not be reached."
        ) from None
