"""The simulated DGFiP API Impôt particulier: OAuth2, headers, SPI routes, errors, magic SPIs."""

from __future__ import annotations

import uuid

import anyio
import httpx
import pytest

from tests.sandbox.helpers import ONE_YEAR, TWO_YEARS

pytestmark = pytest.mark.anyio
ALICE, PAUL, CAMILLE, JEAN_PIERRE, NOE = (
    "3000000000011",
    "3000000000012",
    "3000000000021",
    "3000000000031",
    "3000000000041",
)


def token_form(**overrides: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": "citizen-graph-sandbox",
        "client_secret": "sandbox-dgfip-secret-not-for-production",
        "scope": "RessourceIR RessourceIRDerniere2",
    } | overrides


async def test_client_credentials_grant_issues_a_bearer_token(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/dgfip/token", data=token_form())
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600


async def test_basic_client_authentication_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    form = {"grant_type": "client_credentials"}
    auth = ("citizen-graph-sandbox", "sandbox-dgfip-secret-not-for-production")
    response = await client.post("/dgfip/token", data=form, auth=auth)
    assert response.status_code == 200


async def test_bad_client_secret_is_invalid_client(client: httpx.AsyncClient) -> None:
    response = await client.post("/dgfip/token", data=token_form(client_secret="nope"))
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


async def test_other_grant_type_is_unsupported(client: httpx.AsyncClient) -> None:
    response = await client.post("/dgfip/token", data=token_form(grant_type="password"))
    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type"}


async def test_missing_token_is_rejected_with_4010(client: httpx.AsyncClient) -> None:
    headers = {"X-Correlation-ID": str(uuid.uuid4())}
    response = await client.get(TWO_YEARS.format(spi=ALICE), headers=headers)
    assert response.status_code == 401
    assert response.json()["codeapp"] == "4010"


async def test_missing_correlation_id_is_rejected(
    client: httpx.AsyncClient, dgfip_headers: dict[str, str]
) -> None:
    headers = {"Authorization": dgfip_headers["Authorization"]}
    response = await client.get(TWO_YEARS.format(spi=ALICE), headers=headers)
    assert response.status_code == 400
    assert response.json()["codeapp"] == "4000"


async def test_correlation_id_that_is_not_a_uuid_is_rejected(
    client: httpx.AsyncClient, dgfip_headers: dict[str, str]
) -> None:
    headers = dgfip_headers | {"X-Correlation-ID": "not-a-uuid"}
    response = await client.get(TWO_YEARS.format(spi=ALICE), headers=headers)
    assert response.status_code == 400
    assert response.json()["codeapp"] == "4000"


async def test_correlation_id_is_echoed(
    client: httpx.AsyncClient, dgfip_headers: dict[str, str]
) -> None:
    headers = dgfip_headers | {"ID_Teleservice": "demarche-test"}
    response = await client.get(TWO_YEARS.format(spi=ALICE), headers=headers)
    assert response.status_code == 200
    assert response.headers["X-Correlation-ID"] == dgfip_headers["X-Correlation-ID"]


async def test_couple_spis_share_one_notice(
    client: httpx.AsyncClient, dgfip_headers: dict[str, str]
) -> None:
    alice = await client.get(TWO_YEARS.format(spi=ALICE), headers=dgfip_headers)
    paul = await client.get(TWO_YEARS.format(spi=PAUL), headers=dgfip_headers)
    assert alice.json() == paul.json()
    latest = alice.json()[0]
    assert (latest["spiDec1"], latest["spiDec2"]) == (ALICE, PAUL)
    assert latest["sitFam"] == "M"
    assert (latest["nmNaiDec1"], latest["nmUsaDec1"]) == ("FICTIF", "LAMBERT")
    assert latest["prnmDec1"] == "ALICE MARIE"
    assert latest["dateNaisDec1"] == {"jour": "14", "mois": "03", "annee": "1984"}
    assert (latest["lieuNaissDec1"], latest["dptNaissDec1"]) == ("RENNES", "35")
    assert (latest["lieuNaissDec2"], latest["dptNaissDec2"]) == ("ESPAGNE", "99")


async def test_two_years_lists_latest_income_year_first(
    client: httpx.AsyncClient, dgfip_headers: dict[str, str]
) -> None:
    response = await client.get(TWO_YEARS.format(spi=ALICE), headers=dgfip_headers)
    latest, previous = response.json()
    assert (latest["annRevenu"], previous["annRevenu"]) == (2025, 2024)
    assert latest["rfr"] == 52_110
    assert latest["montTotIr"] == 2_410
    assert latest["nbPart"] == 3.0
    assert latest["pac"] == {"nbPac": 2}
    assert previous["rfr"] < latest["rfr"]


async def test_tax_address_is_in_dgfip_spelling(
    client: httpx.AsyncClient, dgfip_headers: dict[str, str]
) -> None:
    situation = (
        await client.get(TWO_YEARS.format(spi=ALICE), headers=dgfip_headers)
    ).json()[0]
    assert situation["aft"] == "12 R DES EXEMPLES 35000 RENNES"
    assert situation["aftDetail"] == {
        "complementAdresse": None,
        "voie": "12 R DES EXEMPLES",
        "getcommune": "RENNES",
        "getcodePostal": "35000",
    }


async def test_single_person_has_no_second_declarant(
    client: httpx.AsyncClient, dgfip_headers: dict[str, str]
) -> None:
    situation = (
        await client.get(TWO_YEARS.format(spi=CAMILLE), headers=dgfip_headers)
    ).json()[0]
    assert situation["sitFam"] == "C"
    assert situation["spiDec2"] is None
    assert situation["nmNaiDec2"] is None
    assert situation["montTotIr"] is None  # not taxable
    assert 4_000 <= situation["rfr"] <= 4_400


async def test_one_year_route_serves_the_last_three_income_years(
    client: httpx.AsyncClient, dgfip_headers: dict[str, str]
) -> None:
    statuses = {}
    for year in (2022, 2023, 2024, 2025, 2026):
        response = await client.get(
            ONE_YEAR.format(spi=NOE, year=year), headers=dgfip_headers
        )
        statuses[year] = (response.status_code, response.json().get("codeapp"))
    assert statuses == {
        2022: (410, "4101"),
        2023: (200, None),
        2024: (200, None),
        2025: (200, None),
        2026: (410, "4101"),
    }


async def test_divorced_parent_counts_a_child_and_a_half_share(
    client: httpx.AsyncClient, dgfip_headers: dict[str, str]
) -> None:
    response = await client.get(
        ONE_YEAR.format(spi=JEAN_PIERRE, year=2025), headers=dgfip_headers
    )
    situation = response.json()
    assert (situation["sitFam"], situation["nbPart"], situation["pac"]) == (
        "D",
        2.0,
        {"nbPac": 1},
    )
    assert situation["aft"] == "LIEU DIT LE SIMULACRE 15200 MAURIAC"
    assert "annRevenu" not in situation


@pytest.mark.parametrize(
    ("spi", "year", "status", "codeapp"),
    [
        ("30000000000", "2025", 400, "4001"),
        ("300000000001A", "2025", 400, "4001"),
        (ALICE, "25", 400, "4002"),
        ("3999999999999", "2025", 410, "4102"),
        ("1111111111403", "2025", 403, "4031"),
        ("1111111111410", "2025", 410, "4101"),
        ("1111111111500", "2025", 500, "5000"),
    ],
)
async def test_errors_carry_the_documented_codeapp(
    client: httpx.AsyncClient,
    dgfip_headers: dict[str, str],
    spi: str,
    year: str,
    status: int,
    codeapp: str,
) -> None:
    response = await client.get(
        ONE_YEAR.format(spi=spi, year=year), headers=dgfip_headers
    )
    assert response.status_code == status
    body = response.json()
    assert body["codeapp"] == codeapp
    assert spi not in body["message"]


async def test_hanging_spi_does_not_answer(
    client: httpx.AsyncClient, dgfip_headers: dict[str, str]
) -> None:
    with anyio.move_on_after(0.3) as scope:
        await client.get(TWO_YEARS.format(spi="1111111111504"), headers=dgfip_headers)
    assert scope.cancelled_caught
    stats = (await client.get("/_sandbox/stats")).json()["upstreams"]["dgfip"]
    assert stats["max_in_flight"] == 1


async def test_revoked_tokens_are_refused(
    client: httpx.AsyncClient, dgfip_headers: dict[str, str]
) -> None:
    revoked = await client.post("/_sandbox/dgfip/revoke-tokens")
    assert revoked.json()["revoked"] >= 1
    response = await client.get(TWO_YEARS.format(spi=ALICE), headers=dgfip_headers)
    assert response.status_code == 401
    assert response.json()["codeapp"] == "4010"
