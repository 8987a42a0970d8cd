"""A BAN outage keeps DGFiP's address: only the geocoded fields fail, each at its own path."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ALICE, GatewayClient

ALICE_TAX_ADDRESS = "12 R DES EXEMPLES 35000 RENNES"  # as DGFiP writes it
GEOCODED = [
    "houseNumber",
    "street",
    "cityCode",
    "latitude",
    "longitude",
    "matchScore",
    "banId",
]
ADDRESS = "query($fn: String) { citizen(fiscalNumber: $fn) { address { %s } } }"


@pytest.fixture
def ban_outage(sandbox: httpx.Client) -> None:
    sandbox.put("/_sandbox/faults/ban", json={"outage": True}).raise_for_status()


def address(gateway: GatewayClient, *fields: str) -> dict[str, Any]:
    return gateway.query(ADDRESS % " ".join(fields), {"fn": ALICE})


@pytest.mark.usefixtures("ban_outage")
def test_a_ban_outage_keeps_the_tax_address_and_fails_each_geocoded_field(
    gateway: GatewayClient,
) -> None:
    result = address(gateway, "label", "sourceLabel", "postcode", "city", *GEOCODED)
    assert result["data"]["citizen"]["address"] == {
        "label": ALICE_TAX_ADDRESS,
        "sourceLabel": ALICE_TAX_ADDRESS,
        "postcode": "35000",
        "city": "RENNES",
    } | dict.fromkeys(GEOCODED)
    errors = {tuple(e["path"]): e["extensions"] for e in result["errors"]}
    assert errors == {
        ("citizen", "address", field): {"code": "UPSTREAM_UNAVAILABLE", "source": "ban"}
        for field in GEOCODED
    }


@pytest.mark.usefixtures("ban_outage")
def test_a_ban_outage_reports_only_the_geocoded_fields_selected(
    gateway: GatewayClient,
) -> None:
    result = address(gateway, "label", "latitude", "city")
    assert result["data"]["citizen"]["address"] == {
        "label": ALICE_TAX_ADDRESS,
        "latitude": None,
        "city": "RENNES",
    }
    assert [e["path"] for e in result["errors"]] == [["citizen", "address", "latitude"]]


@pytest.mark.usefixtures("ban_outage")
def test_a_ban_outage_is_no_error_when_no_geocoded_field_is_selected(
    gateway: GatewayClient,
) -> None:
    result = address(gateway, "label", "sourceLabel", "postcode")
    assert result == {
        "data": {
            "citizen": {
                "address": {
                    "label": ALICE_TAX_ADDRESS,
                    "sourceLabel": ALICE_TAX_ADDRESS,
                    "postcode": "35000",
                }
            }
        }
    }


def test_without_an_outage_the_label_is_the_bans(gateway: GatewayClient) -> None:
    result = address(gateway, "label", "sourceLabel", "banId")
    assert "errors" not in result
    found = result["data"]["citizen"]["address"]
    assert found["sourceLabel"] == ALICE_TAX_ADDRESS
    assert found["label"] != ALICE_TAX_ADDRESS
    assert found["banId"]
