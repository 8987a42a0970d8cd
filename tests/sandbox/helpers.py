"""Helpers of the sandbox tests: paths, and the parameters a client would send."""

from __future__ import annotations

import datetime
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


async def mint(
    client: httpx.AsyncClient, scopes: list[str], expires_in: int = 3600
) -> dict[str, str]:
    """Headers carrying a freshly minted API Particulier token with these scopes."""
    body = {"scopes": scopes, "expires_in": expires_in}
    token = (await client.post("/_sandbox/api-particulier/tokens", json=body)).json()[
        "token"
    ]
    return {"Authorization": f"Bearer {token}"}


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
