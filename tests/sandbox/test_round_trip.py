"""What the catalogue says is what the upstreams answer: identities and fiscal numbers listed by
`/_sandbox/citizens` find the same person in every upstream that `knownBy` names."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import QF, STUDENT, TWO_YEARS, catalogue, identity_params

pytestmark = pytest.mark.anyio


async def test_catalogue_identity_round_trips_to_qf_lookup(
    client: httpx.AsyncClient, ap_headers: dict[str, str]
) -> None:
    known = await catalogue(client, known_by="cnaf", offset=200, limit=8)
    known += await catalogue(client, known_by="msa", offset=50, limit=4)
    for citizen in known:
        response = await client.get(
            QF, params=identity_params(citizen["identity"]), headers=ap_headers
        )
        assert response.status_code == 200, citizen
        data = response.json()["data"]
        names = [a["nom_naissance"] for a in data["allocataires"]]
        assert citizen["identity"]["birthName"] in names
        provider = "MSA" if "msa" in citizen["knownBy"] else "CNAF"
        assert data["quotient_familial"]["fournisseur"] == provider


async def test_catalogue_identity_round_trips_to_student_lookup(
    client: httpx.AsyncClient, ap_headers: dict[str, str]
) -> None:
    for citizen in await catalogue(client, known_by="mesri", offset=100, limit=6):
        params = identity_params(citizen["identity"])
        response = await client.get(STUDENT, params=params, headers=ap_headers)
        assert response.status_code == 200, citizen
        assert (
            response.json()["data"]["identite"]["nom_naissance"]
            == (citizen["identity"]["birthName"])
        )


async def test_citizen_unknown_to_cnaf_and_msa_is_not_found(
    client: httpx.AsyncClient, ap_headers: dict[str, str]
) -> None:
    citizens = await catalogue(client, offset=1_000, limit=60)
    unknown = [c for c in citizens if not {"cnaf", "msa"} & set(c["knownBy"])][:5]
    assert unknown
    for citizen in unknown:
        response = await client.get(
            QF, params=identity_params(citizen["identity"]), headers=ap_headers
        )
        assert response.status_code == 404


async def test_catalogue_fiscal_number_round_trips_to_the_tax_notice(
    client: httpx.AsyncClient, dgfip_headers: dict[str, str]
) -> None:
    for citizen in await catalogue(client, offset=5_000, limit=10):
        response = await client.get(
            TWO_YEARS.format(spi=citizen["fiscalNumber"]), headers=dgfip_headers
        )
        assert response.status_code == 200
        latest = response.json()[0]
        n = "1" if latest["spiDec1"] == citizen["fiscalNumber"] else "2"
        assert latest[f"spiDec{n}"] == citizen["fiscalNumber"]
        assert _declarant(latest, n) == _identity(citizen["identity"])


def _declarant(situation: dict[str, Any], n: str) -> tuple[Any, ...]:
    born = situation[f"dateNaisDec{n}"]
    return (
        situation[f"nmNaiDec{n}"],
        situation[f"nmUsaDec{n}"] or None,
        situation[f"prnmDec{n}"].split(),
        f"{born['annee']}-{born['mois']}-{born['jour']}",
    )


def _identity(identity: dict[str, Any]) -> tuple[Any, ...]:
    return (
        identity["birthName"],
        identity["usageName"],
        identity["givenNames"],
        identity["birthDate"],
    )
