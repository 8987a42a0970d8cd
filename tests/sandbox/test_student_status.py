"""The MESRI student status by pivot identity."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.helpers import STUDENT, catalogue, fixed_identity, identity_params

pytestmark = pytest.mark.anyio


async def test_enrolled_student_has_this_academic_year(
    client: httpx.AsyncClient, ap_headers: dict[str, str]
) -> None:
    camille = await fixed_identity(client, "3000000000021")
    response = await client.get(
        STUDENT, params=identity_params(camille), headers=ap_headers
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["identite"] == {
        "nom_naissance": "TESTEUR",
        "prenom": "CAMILLE",
        "date_naissance": "2004-06-01",
    }
    assert data["admissions"] == [
        {
            "date_debut": "2026-09-01",
            "date_fin": "2027-08-31",
            "est_inscrit": True,
            "code_cog_insee_commune": "69387",
            "regime_formation": {"libelle": "formation initiale", "code": "RF1"},
            "etablissement_etudes": {
                "uai": "0699999Z",
                "nom": "Université Fictive de Lyon",
            },
        }
    ]


async def test_some_students_are_admitted_but_not_enrolled(
    client: httpx.AsyncClient, ap_headers: dict[str, str]
) -> None:
    students = await catalogue(client, known_by="mesri", limit=19)
    enrolled = []
    for student in students:
        response = await client.get(
            STUDENT, params=identity_params(student["identity"]), headers=ap_headers
        )
        assert response.status_code == 200
        enrolled += [a["est_inscrit"] for a in response.json()["data"]["admissions"]]
    assert True in enrolled
    assert False in enrolled


async def test_partial_birth_date_gets_00366(
    client: httpx.AsyncClient, ap_headers: dict[str, str]
) -> None:
    camille = await fixed_identity(client, "3000000000021")
    params = identity_params(camille, jourDateNaissance=None)
    response = await client.get(STUDENT, params=params, headers=ap_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "00366"


async def test_non_student_gets_25003(
    client: httpx.AsyncClient, ap_headers: dict[str, str]
) -> None:
    noe = await fixed_identity(client, "3000000000041")
    response = await client.get(
        STUDENT, params=identity_params(noe), headers=ap_headers
    )
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "25003"


@pytest.mark.parametrize(
    ("place", "status", "code"),
    [("00404", 404, "25003"), ("00502", 502, "25999"), ("00504", 504, "25002")],
)
async def test_magic_birth_places_trigger_mesri_errors(
    client: httpx.AsyncClient,
    ap_headers: dict[str, str],
    place: str,
    status: int,
    code: str,
) -> None:
    camille = await fixed_identity(client, "3000000000021")
    params = identity_params(camille, codeCogInseeCommuneNaissance=place)
    response = await client.get(STUDENT, params=params, headers=ap_headers)
    assert response.status_code == status
    assert response.json()["errors"][0]["code"] == code
