"""The upstream connectors, one per State API, opened and closed together.

`open_connectors(settings)` builds one long-lived httpx client per upstream for the app's
lifespan; `Connectors` is what the loaders receive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from citizen_graph.connectors._client import ClientConfig, UpstreamClient
from citizen_graph.connectors.api_particulier import ApiParticulierConnector
from citizen_graph.connectors.ban import BanConnector
from citizen_graph.connectors.dgfip import ClientCredentials, DgfipConnector
from citizen_graph.errors import UpstreamUnavailable
from citizen_graph.settings import (
    ApiParticulierSettings,
    BanSettings,
    DgfipSettings,
    Settings,
)

__all__ = [
    "ApiParticulierConnector",
    "BanConnector",
    "Connectors",
    "DgfipConnector",
    "fetch_sandbox_credentials",
    "open_connectors",
]


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
    dgfip_client = UpstreamClient(
        _config("dgfip", settings, settings.dgfip),
        auth=ClientCredentials(
            settings.dgfip.base_url.rstrip("/") + "/token",
            settings.dgfip.client_id,
            str(settings.dgfip.client_secret),
        ),
    )
    particulier_client = UpstreamClient(
        _config(
            "api_particulier",
            settings,
            settings.api_particulier,
            settings.api_particulier.rate_limit_per_s,
        ),
        subject_error=_particulier_provider_error,
    )
    ban_client = UpstreamClient(
        _config("ban", settings, settings.ban, settings.ban.rate_limit_per_s)
    )
    clients = (dgfip_client, particulier_client, ban_client)
    try:
        yield Connectors(
            dgfip=DgfipConnector(dgfip_client, settings.dgfip.teleservice_id),
            api_particulier=ApiParticulierConnector(
                particulier_client, str(settings.api_particulier.token)
            ),
            ban=BanConnector(ban_client),
            clients=clients,
        )
    finally:
        for client in clients:
            await client.aclose()


def _config(
    source: str,
    settings: Settings,
    upstream: DgfipSettings | ApiParticulierSettings | BanSettings,
    rate_limit_per_s: int | None = None,
) -> ClientConfig:
    return ClientConfig(
        source=source,
        base_url=upstream.base_url,
        connect_timeout_s=upstream.connect_timeout_s,
        read_timeout_s=upstream.read_timeout_s,
        max_connections=upstream.max_connections,
        rate_limit_per_s=rate_limit_per_s,
        breaker_threshold=settings.breaker.failure_threshold,
        breaker_open_s=settings.breaker.open_s,
    )


# API Particulier's "Erreur du fournisseur" (502) for one identity: CNAF, MESRI.
PARTICULIER_PROVIDER_ERRORS = frozenset({"23999", "25999"})


def _particulier_provider_error(response: httpx.Response) -> bool:
    """A 502 in API Particulier's own error envelope, naming a provider error."""
    if response.status_code != 502:
        return False
    try:
        errors = response.json()["errors"]
        codes = {str(error["code"]) for error in errors}
    except (ValueError, KeyError, TypeError):
        return False
    return bool(codes) and codes <= PARTICULIER_PROVIDER_ERRORS


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
