"""The graph returns what the upstreams hold, translated into the contract's names."""

from typing import Any

import httpx
import pytest
from syrupy.assertion import SnapshotAssertion

from tests.conftest import (
    ALICE,
    ALICE_IDENTITY,
    CAMILLE,
    JEAN,
    NOE,
    PAUL,
    GatewayClient,
    catalogue,
)
from tests.e2e.queries import ONE_CITIZEN
from tests.snapshots import JsonSnapshot


def dgfip_latest(sandbox: httpx.Client, spi: str) -> dict[str, Any]:
    """Ask the simulated DGFiP directly, as a tester would with the sandbox credentials."""
    creds = sandbox.get("/_sandbox/credentials").json()["dgfip"]
    token = sandbox.post(
        "/dgfip/token",
        data={"grant_type": "client_credentials", "scope": "RessourceIR", **creds},
    ).json()["access_token"]
    response = sandbox.get(
        f"/dgfip/impotparticulier/1.0/spi/{spi}/dernieresituation/ir/assiettes/deuxans",
        headers={
            "Authorization": f"Bearer {token}",
            "X-Correlation-ID": "6f1c7d3a-0d7e-4c55-9d7a-1b2c3d4e5f60",
        },
    )
    situations: list[dict[str, Any]] = response.json()
    return max(situations, key=lambda s: s["annRevenu"])


def citizen(gateway: GatewayClient, fiscal_number: str, identity: Any = None) -> Any:
    result = gateway.query(
        ONE_CITIZEN, {"fiscalNumber": fiscal_number, "identity": identity}
    )
    return result["data"]["citizen"], result.get("errors", [])


# Dated arguments, so that the snapshot does not move with the calendar.
ALICE_FILE = """query($f: String, $i: PivotIdentityInput) {
  citizen(fiscalNumber: $f, identity: $i) {
    id
    identity { birthName usageName givenNames birthDate birthPlace birthDepartment }
    taxNotice(incomeYear: 2025) {
      incomeYear taxYear referenceTaxIncome shares familySituation dependents
      grossIncome taxableIncome taxBeforeCorrections taxAmount issuedOn collectedOn
    }
    address {
      label houseNumber street postcode city cityCode latitude longitude matchScore
      banId sourceLabel
    }
    familyQuotient(year: 2026, month: 11) {
      value provider year month computedYear computedMonth
      beneficiaries { birthName usageName givenNames birthDate sex }
      children { birthName usageName givenNames birthDate sex }
    }
  }
}"""


def test_alice_all_fields_match_the_snapshot(
    gateway: GatewayClient, snapshot: SnapshotAssertion
) -> None:
    result = gateway.query(ALICE_FILE, {"f": ALICE, "i": ALICE_IDENTITY})
    assert "errors" not in result
    assert result["data"] == snapshot.use_extension(JsonSnapshot)


def test_tax_notice_values_equal_dgfips(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    upstream = dgfip_latest(sandbox, ALICE)
    data, _ = citizen(gateway, ALICE)
    notice = data["taxNotice"]
    assert notice["incomeYear"] == upstream["annRevenu"]
    assert notice["taxYear"] == upstream["annRevenu"] + 1
    assert notice["referenceTaxIncome"] == upstream["rfr"]
    assert notice["shares"] == upstream["nbPart"]
    assert notice["dependents"] == upstream["pac"]["nbPac"]
    assert notice["taxAmount"] == upstream["montTotIr"]
    assert notice["familySituation"] == "MARRIED"
    day, month, year = upstream["datEtab"].split("/")
    assert notice["issuedOn"] == f"{year}-{month}-{day}"


def test_identity_is_the_declarant_the_fiscal_number_belongs_to(
    gateway: GatewayClient,
) -> None:
    alice, _ = citizen(gateway, ALICE)
    paul, _ = citizen(gateway, PAUL)
    assert alice["identity"]["givenNames"] == ["ALICE", "MARIE"]
    assert alice["identity"]["usageName"] == "LAMBERT"
    assert alice["identity"]["birthDate"] == "1984-03-14"
    assert paul["identity"]["givenNames"] == ["PAUL"]
    assert paul["taxNotice"] == alice["taxNotice"]  # a couple shares one notice


def test_dgfip_spelling_is_geocoded_by_the_ban(gateway: GatewayClient) -> None:
    data, _ = citizen(gateway, ALICE)
    address = data["address"]
    assert address["sourceLabel"] == "12 R DES EXEMPLES 35000 RENNES"
    assert address["label"] == "12 Rue des Exemples 35000 Rennes"
    assert address["houseNumber"] == "12"
    assert address["cityCode"] == "35238"
    assert address["matchScore"] >= 0.9
    assert 47 < address["latitude"] < 49
    assert -2.5 < address["longitude"] < -1


def test_an_address_the_ban_cannot_match_keeps_the_dgfip_label(
    gateway: GatewayClient,
) -> None:
    data, errors = citizen(gateway, NOE)
    assert [e for e in errors if e["path"][1] == "address"] == []
    assert data["address"]["label"] == data["address"]["sourceLabel"]
    assert data["address"]["matchScore"] is None
    assert data["address"]["latitude"] is None


def test_family_quotient_comes_from_the_caf_with_its_members(
    gateway: GatewayClient,
) -> None:
    data, _ = citizen(gateway, ALICE, ALICE_IDENTITY)
    quotient = data["familyQuotient"]
    assert quotient["provider"] == "CNAF"
    assert {tuple(c["givenNames"]) for c in quotient["children"]} == {
        ("LEA",),
        ("HUGO",),
    }
    assert len(quotient["beneficiaries"]) == 2


def test_msa_files_report_the_msa(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    [jean] = [c for c in catalogue(sandbox, 10) if c["fiscalNumber"] == JEAN]
    data, _ = citizen(gateway, JEAN, jean["identity"])
    assert data["familyQuotient"]["provider"] == "MSA"


def test_student_status_of_an_enrolled_student(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    [camille] = [c for c in catalogue(sandbox, 10) if c["fiscalNumber"] == CAMILLE]
    data, _ = citizen(gateway, CAMILLE, camille["identity"])
    assert data["studentStatus"]["enrolled"] is True
    assert data["studentStatus"]["admissions"]
    assert data["taxNotice"]["taxAmount"] is None  # not taxable


@pytest.mark.parametrize("years_back", [0, 1])
def test_tax_notice_of_a_given_income_year(
    gateway: GatewayClient, sandbox: httpx.Client, years_back: int
) -> None:
    latest = dgfip_latest(sandbox, ALICE)["annRevenu"]
    query = """query($f: String, $y: Int) { citizen(fiscalNumber: $f) {
      taxNotice(incomeYear: $y) { incomeYear referenceTaxIncome } } }"""
    result = gateway.query(query, {"f": ALICE, "y": latest - years_back})
    assert result["data"]["citizen"]["taxNotice"]["incomeYear"] == latest - years_back


def test_the_id_is_stable_and_opaque(gateway: GatewayClient) -> None:
    first, _ = citizen(gateway, ALICE)
    second, _ = citizen(gateway, ALICE)
    assert first["id"] == second["id"]
    assert ALICE not in first["id"]
