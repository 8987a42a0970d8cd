"""The family quotient (CNAF/MSA) by pivot identity: matching, blocks, period, validation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import QF, Query, fixed_identity, identity_params

pytestmark = pytest.mark.anyio


async def quotient(
    client: httpx.AsyncClient, headers: dict[str, str], params: Query
) -> httpx.Response:
    return await client.get(QF, params=params, headers=headers)


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> dict[str, Any]:
    return await fixed_identity(client, "3000000000011")


async def test_couple_file_lists_both_parents_and_children(
    client: httpx.AsyncClient, ap_headers: dict[str, str], alice: dict[str, Any]
) -> None:
    response = await quotient(client, ap_headers, identity_params(alice))
    assert response.status_code == 200
    body = response.json()
    assert (body["links"], body["meta"]) == ({}, {})
    data = body["data"]
    assert [a["prenoms"] for a in data["allocataires"]] == ["ALICE MARIE", "PAUL"]
    assert data["enfants"] == [
        {"nom_naissance": "LAMBERT", "nom_usage": None, "prenoms": "LEA",
         "date_naissance": "2015-01-20", "sexe": "F"},
        {"nom_naissance": "LAMBERT", "nom_usage": None, "prenoms": "HUGO",
         "date_naissance": "2018-06-05", "sexe": "M"},
    ]  # fmt: skip
    assert data["adresse"]["numero_libelle_voie"] == "12 RUE DES EXEMPLES"
    assert data["adresse"]["code_postal_ville"] == "35000 RENNES"


async def test_cnaf_quotient_is_computed_on_the_previous_month(
    client: httpx.AsyncClient, ap_headers: dict[str, str], alice: dict[str, Any]
) -> None:
    data = (await quotient(client, ap_headers, identity_params(alice))).json()["data"]
    qf = data["quotient_familial"]
    assert qf["fournisseur"] == "CNAF"
    assert (qf["annee"], qf["mois"], qf["annee_calcul"], qf["mois_calcul"]) == (
        2026,
        11,
        2026,
        10,
    )
    assert 790 <= qf["valeur"] <= 830


async def test_msa_quotient_is_computed_this_month(
    client: httpx.AsyncClient, ap_headers: dict[str, str]
) -> None:
    jean_pierre = await fixed_identity(client, "3000000000031")
    params = [*identity_params(jean_pierre), ("annee", "2026"), ("mois", "3")]
    qf = (await quotient(client, ap_headers, params)).json()["data"][
        "quotient_familial"
    ]
    assert qf["fournisseur"] == "MSA"
    assert (qf["annee"], qf["mois"], qf["annee_calcul"], qf["mois_calcul"]) == (
        2026,
        3,
        2026,
        11,
    )


async def test_past_months_vary_a_little_and_repeat(
    client: httpx.AsyncClient, ap_headers: dict[str, str], alice: dict[str, Any]
) -> None:
    values = []
    for month in ("1", "2", "3", "1"):
        params = [*identity_params(alice), ("annee", "2026"), ("mois", month)]
        values.append((await quotient(client, ap_headers, params)).json()["data"])
    quotients = [v["quotient_familial"]["valeur"] for v in values]
    assert quotients[0] == quotients[3]
    assert all(abs(q - 812) <= 20 for q in quotients)


@pytest.mark.parametrize(
    ("year", "month"), [("2026", "12"), ("2024", "10"), ("2026", "13")]
)
async def test_future_or_too_old_month_gets_00368(
    client: httpx.AsyncClient, ap_headers: dict[str, str], alice: dict[str, Any],
    year: str, month: str,
) -> None:  # fmt: skip
    params = [*identity_params(alice), ("annee", year), ("mois", month)]
    response = await quotient(client, ap_headers, params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "00368"


async def test_matching_tolerates_case_accents_usage_name_and_given_names(
    client: httpx.AsyncClient, ap_headers: dict[str, str], alice: dict[str, Any]
) -> None:
    params = identity_params(
        alice, nomNaissance="Fictif", nomUsage="DUPONT", **{"prenoms[]": ["Alice"]}
    )
    response = await quotient(client, ap_headers, params)
    assert response.status_code == 200


async def test_child_is_not_an_allocataire(
    client: httpx.AsyncClient, ap_headers: dict[str, str]
) -> None:
    lea = {"birthName": "LAMBERT", "usageName": None, "givenNames": ["LEA"],
           "birthDate": "2015-01-20", "sex": "F", "birthCountryCode": "99100",
           "birthPlaceCode": "35238"}  # fmt: skip
    response = await quotient(client, ap_headers, identity_params(lea))
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "35003"


async def test_person_without_family_file_gets_35003(
    client: httpx.AsyncClient, ap_headers: dict[str, str]
) -> None:
    camille = await fixed_identity(client, "3000000000021")
    response = await quotient(client, ap_headers, identity_params(camille))
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "35003"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"sexeEtatCivil": None}, "00427"),
        ({"sexeEtatCivil": "X"}, "00366"),
        ({"nomNaissance": None}, "00366"),
        ({"prenoms[]": None}, "00366"),
        ({"prenoms[]": ["A", "B", "C", "D"]}, "00366"),
        ({"codeCogInseeCommuneNaissance": None}, "00366"),
        ({"codeCogInseePaysNaissance": None}, "00366"),
        ({"moisDateNaissance": "13"}, "00366"),
    ],
)
async def test_badly_formed_identity_gets_422(
    client: httpx.AsyncClient, ap_headers: dict[str, str], alice: dict[str, Any],
    overrides: dict[str, Any], code: str,
) -> None:  # fmt: skip
    response = await quotient(client, ap_headers, identity_params(alice, **overrides))
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == code


@pytest.mark.parametrize(
    ("place", "status", "code"),
    [("00404", 404, "23003"), ("00502", 502, "23999"), ("00504", 504, "23002")],
)
async def test_magic_birth_places_trigger_provider_errors(
    client: httpx.AsyncClient, ap_headers: dict[str, str], alice: dict[str, Any],
    place: str, status: int, code: str,
) -> None:  # fmt: skip
    params = identity_params(alice, codeCogInseeCommuneNaissance=place)
    response = await quotient(client, ap_headers, params)
    assert response.status_code == status
    error = response.json()["errors"][0]
    assert error["code"] == code
    if status == 504:
        assert error["meta"]["retry_in"] == 10
