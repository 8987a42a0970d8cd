"""Habilitations: each client reaches the State with its own credential, and what it may
read is its role's policy intersected with its habilitation's scopes. Counted at the
sandbox (`/_sandbox/stats` counts calls per credential), never timed."""

from __future__ import annotations

import httpx

from tests.conftest import ALICE, ALICE_IDENTITY, GatewayClient, upstream_calls

QUOTIENT = """query($i: PivotIdentityInput) {
  citizen(identity: $i) { familyQuotient { value children { givenNames } } } }"""
CHILDREN_ONLY = """query($i: PivotIdentityInput) {
  citizen(identity: $i) { familyQuotient { children { givenNames } } } }"""
PURPOSE = {"X-Purpose": "Tarification cantine"}


def credentials(sandbox: httpx.Client, upstream: str) -> dict[str, int]:
    stats = sandbox.get("/_sandbox/stats").json()["upstreams"][upstream]
    counts: dict[str, int] = stats["credentials"]
    return counts


def test_two_clients_asking_for_one_citizen_each_use_their_own_credential(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    query = f'{{ citizen(fiscalNumber: "{ALICE}") {{ identity {{ birthName }} }} }}'
    for key in ("demo-family-portal", "demo-ccas-partial"):
        result = gateway.query(query, key=key, headers=PURPOSE)
        assert result["data"]["citizen"]["identity"]["birthName"] == "FICTIF"
    # Neither was served from the other's cache: one DGFiP call each, two clients.
    calls = credentials(sandbox, "dgfip")
    assert sorted(n for client, n in calls.items()) == [2, 2]  # token + deuxans each


def test_a_field_outside_the_habilitations_scopes_is_forbidden_and_never_fetched(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    result = gateway.query(
        CHILDREN_ONLY,
        {"i": ALICE_IDENTITY},
        key="demo-ccas-partial",
        headers=PURPOSE,
    )
    [error] = result["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "habilitation" in error["message"]
    assert "FamilyQuotient.children" in error["message"]
    assert upstream_calls(sandbox, "api_particulier") == 0


def test_what_the_scopes_cover_is_served_beside_what_they_do_not(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    result = gateway.query(
        QUOTIENT, {"i": ALICE_IDENTITY}, key="demo-ccas-partial", headers=PURPOSE
    )
    quotient = result["data"]["citizen"]["familyQuotient"]
    assert isinstance(quotient["value"], int)
    assert quotient["children"] is None
    assert [e["path"] for e in result["errors"]] == [
        ["citizen", "familyQuotient", "children"]
    ]
    assert upstream_calls(sandbox, "api_particulier") == 1


def test_the_viewer_lists_the_intersection(gateway: GatewayClient) -> None:
    query = "{ viewer { readableFields } }"
    partial = gateway.query(query, key="demo-ccas-partial", headers=PURPOSE)
    full = gateway.query(query, key="demo-family-portal", headers=PURPOSE)
    partial_fields = set(partial["data"]["viewer"]["readableFields"])
    full_fields = set(full["data"]["viewer"]["readableFields"])
    assert full_fields - partial_fields == {"FamilyQuotient.children"}


def test_no_secret_reaches_the_answer_the_audit_or_readyz(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    gateway.query(
        QUOTIENT, {"i": ALICE_IDENTITY}, key="demo-ccas-partial", headers=PURPOSE
    )
    given = sandbox.get("/_sandbox/credentials").json()
    secrets = [given["dgfip"]["client_secret"], given["api_particulier"]["token"]]
    readyz = httpx.get(f"{gateway.url}/readyz").text
    audit = gateway.audit_file.read_text()
    records = [line for line in audit.splitlines() if '"habilitation"' in line]
    assert records
    assert "demo-client-ccas-partial-habilitation" in records[-1]
    for text in (readyz, audit):
        assert not any(secret in text for secret in secrets)
        assert "eyJ" not in text  # no JWT
