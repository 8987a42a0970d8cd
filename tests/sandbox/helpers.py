"""Helpers of the sandbox tests: paths, and the parameters a client would send."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import httpx

TODAY = datetime.date(2026, 11, 28)  # the date the tests' upstreams believe it is
RECIPIENT = "13002526500013"  # a 14-digit SIRET
QF = "/api-particulier/v3/dss/quotient_familial/identite"
STUDENT = "/api-particulier/v3/mesri/statut_etudiant/identite"
TWO_YEARS = (
    "/dgfip/impotparticulier/1.0/spi/{spi}/dernieresituation/ir/assiettes/deuxans"
)
Query = list[tuple[str, str | int | float | bool | None]]  # what httpx takes as params
ONE_YEAR = "/dgfip/impotparticulier/1.0/spi/{spi}/situations/ir/assiettes/annrev/{year}"


async def mint_token(
    client: httpx.AsyncClient, scopes: list[str], expires_in: int = 3600
) -> dict[str, str]:
    """A freshly minted API Particulier token with these scopes: `{"token", "jti"}`."""
    body = {"scopes": scopes, "expires_in": expires_in}
    response = await client.post("/_sandbox/api-particulier/tokens", json=body)
    assert response.status_code == 200, response.text
    minted: dict[str, str] = response.json()
    return minted


async def mint(
    client: httpx.AsyncClient, scopes: list[str], expires_in: int = 3600
) -> dict[str, str]:
    """Headers carrying a freshly minted API Particulier token with these scopes."""
    token = (await mint_token(client, scopes, expires_in))["token"]
    return {"Authorization": f"Bearer {token}"}


async def dgfip_client(
    client: httpx.AsyncClient, scopes: list[str] | None = None
) -> dict[str, str]:
    """A freshly registered DGFiP OAuth client: `{"client_id", "client_secret"}`."""
    body = {} if scopes is None else {"scopes": scopes}
    response = await client.post("/_sandbox/dgfip/clients", json=body)
    assert response.status_code == 200, response.text
    registered: dict[str, str] = response.json()
    return registered


async def dgfip_token(
    client: httpx.AsyncClient, credentials: dict[str, str], scope: str | None = None
) -> httpx.Response:
    """`POST /dgfip/token` with these client credentials (and `scope`, when given)."""
    form = {"grant_type": "client_credentials", **credentials}
    if scope is not None:
        form["scope"] = scope
    return await client.post("/dgfip/token", data=form)


async def dgfip_headers_of(
    client: httpx.AsyncClient, credentials: dict[str, str], scope: str | None = None
) -> dict[str, str]:
    """Headers of a DGFiP data call with a fresh token of these client credentials."""
    token = (await dgfip_token(client, credentials, scope)).json()["access_token"]
    return {"Authorization": f"Bearer {token}", "X-Correlation-ID": str(uuid.uuid4())}


def identity_params(identity: dict[str, Any], **overrides: Any) -> Query:
    """API Particulier's pivot identity parameters for a catalogue identity."""
    year, month, day = identity["birthDate"].split("-")
    params: dict[str, Any] = {
        "recipient": RECIPIENT,
        "nomNaissance": identity["birthName"],
        "nomUsage": identity["usageName"],
        "prenoms[]": identity["givenNames"],
        "anneeDateNaissance": year,
        "moisDateNaissance": str(int(month)),
        "jourDateNaissance": str(int(day)),
        "sexeEtatCivil": identity["sex"],
        "codeCogInseePaysNaissance": identity["birthCountryCode"],
        "codeCogInseeCommuneNaissance": identity["birthPlaceCode"],
    } | overrides
    pairs: Query = []
    for key, value in params.items():
        values = value if isinstance(value, list) else [value]
        pairs += [(key, v) for v in values if v is not None]
    return pairs


async def catalogue(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    citizens: list[dict[str, Any]] = (
        await client.get("/_sandbox/citizens", params=params)
    ).json()["citizens"]
    return citizens


async def fixed_identity(
    client: httpx.AsyncClient, fiscal_number: str
) -> dict[str, Any]:
    for citizen in await catalogue(client, limit=5):
        if citizen["fiscalNumber"] == fiscal_number:
            identity: dict[str, Any] = citizen["identity"]
            return identity
    raise LookupError(fiscal_number)
