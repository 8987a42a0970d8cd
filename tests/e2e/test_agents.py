"""Agents' tokens end to end: the sandbox mints them and serves its JWKS, the gateway in
sandbox mode trusts it, the agent reaches data within its token's roles, and every record
names the agent (CONTRACT.md §9)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from citizen_graph.cli import main
from tests.conftest import ALICE, ALICE_IDENTITY, FAMILY, GatewayClient

QUOTIENT = """query Quotient($i: PivotIdentityInput) {
  citizen(identity: $i) { familyQuotient { value } } }"""
VIEWER = "{ viewer { clientId recipient role allowedRoles } }"
AGENT = "agent-3b8e51c2"


def mint(sandbox: httpx.Client, **body: Any) -> str:
    asked: dict[str, Any] = {"client": "demo-client-family-portal", "sub": AGENT}
    asked |= {"roles": ["family_portal"], "ttl_s": 600} | body
    response = sandbox.post("/_sandbox/agent-tokens", json=asked)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def test_the_sandbox_serves_only_public_signing_keys(sandbox: httpx.Client) -> None:
    keys = sandbox.get("/_sandbox/jwks.json").json()["keys"]
    assert {key["alg"] for key in keys} == {"RS256", "ES256"}
    assert all(key["use"] == "sig" and key["kid"] for key in keys)
    assert not any("d" in key for key in keys)  # no private half


def test_an_agents_token_minted_by_the_sandbox_reaches_data(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    result = gateway.query(QUOTIENT, {"i": ALICE_IDENTITY}, key=mint(sandbox))
    assert "errors" not in result
    assert result["data"]["citizen"]["familyQuotient"]["value"] is not None


def test_the_viewer_names_the_agent_and_is_null_for_an_api_key(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    query = "{ viewer { agent clientId } }"
    assert gateway.query(query, key=mint(sandbox))["data"]["viewer"]["agent"] == AGENT
    assert gateway.query(query, key=FAMILY)["data"]["viewer"]["agent"] is None


def test_an_es256_token_reaches_data_too(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    token = mint(sandbox, alg="ES256")
    viewer = gateway.query(VIEWER, key=token)["data"]["viewer"]
    assert viewer["clientId"] == "demo-client-family-portal"


def test_the_agent_is_in_the_audit_record_and_audit_find_lists_what_it_read(
    gateway: GatewayClient, sandbox: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway.query(QUOTIENT, {"i": ALICE_IDENTITY}, key=mint(sandbox))
    other = mint(sandbox, sub="agent-other")
    gateway.query(f'{{ citizen(fiscalNumber: "{ALICE}") {{ id }} }}', key=other)
    gateway.query(QUOTIENT, {"i": ALICE_IDENTITY}, key="demo-family-portal")
    first, second, by_key = gateway.records()
    assert (first["agent"], first["client_id"]) == (AGENT, "demo-client-family-portal")
    assert (second["agent"], by_key["agent"]) == ("agent-other", None)
    capsys.readouterr()
    main(["audit", "find", str(gateway.audit_file), "--agent", AGENT])
    [line] = capsys.readouterr().out.strip().splitlines()
    assert f"agent={AGENT}" in line
    assert "FamilyQuotient.value" in line


def test_x_role_chooses_among_the_tokens_roles(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    roles = ["address_check", "family_portal"]
    token = mint(sandbox, client="demo-client-all-roles", roles=roles)
    viewer = gateway.query(VIEWER, key=token)["data"]["viewer"]
    assert (viewer["role"], viewer["allowedRoles"]) == ("address_check", roles)
    chosen = gateway.query(VIEWER, key=token, headers={"X-Role": "family_portal"})
    assert chosen["data"]["viewer"]["role"] == "family_portal"
    default = mint(sandbox, client="demo-client-all-roles", roles=roles,
                   default_role="family_portal")  # fmt: skip
    assert (
        gateway.query(VIEWER, key=default)["data"]["viewer"]["role"] == "family_portal"
    )


def test_a_role_outside_the_tokens_roles_is_forbidden(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    token = mint(sandbox, client="demo-client-all-roles", roles=["address_check"])
    # The client may read as social_services; this agent's token does not let it.
    response = gateway.post(VIEWER, key=token, headers={"X-Role": "social_services"})
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN_ROLE"
    [record] = gateway.records()
    assert record["client_id"] == "demo-client-all-roles"


@pytest.mark.parametrize(
    "body",
    [
        {"ttl_s": -120},  # expired beyond the leeway
        {"client": "demo-client-unknown"},
        {"roles": ["family_portal", "social_services"]},  # beyond the client's
        {"siret": "26350238800011"},  # another organisation's
    ],
    ids=["expired", "unknown-client", "roles-beyond-the-client", "another-siret"],
)
def test_a_refused_token_is_401_and_echoes_nothing(
    gateway: GatewayClient, sandbox: httpx.Client, body: dict[str, Any]
) -> None:
    token = mint(sandbox, **body)
    response = gateway.post(QUOTIENT, {"i": ALICE_IDENTITY}, key=token)
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    for value in (token, token.split(".")[1], AGENT, *map(str, body.values())):
        assert value not in response.text
    [record] = gateway.records()
    assert (record["refusal"]["code"], record["client_id"]) == ("UNAUTHENTICATED", None)
    assert record["agent"] is None  # an unverified `sub` is never recorded
    assert token.split(".")[1] not in gateway.audit_file.read_text()


def test_a_token_expired_within_the_leeway_is_accepted(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    token = mint(sandbox, ttl_s=-10)  # the leeway is 30 s
    assert gateway.query(VIEWER, key=token)["data"]["viewer"]["role"] == "family_portal"


def test_every_refusal_at_the_edge_records_the_agent_and_audit_find_lists_it(
    gateway: GatewayClient, sandbox: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = "agent-refused-1"
    token = mint(sandbox, client="demo-client-all-roles", sub=agent)
    bearer = {"Authorization": f"Bearer {token}"}
    # The agents' keys at hand, as after any request: a refusal never fetches them.
    gateway.query(VIEWER, key=token)  # about no citizen: no record
    body = {"query": VIEWER}
    refused = [
        gateway.post(VIEWER, key=token, headers={"X-Role": "social_services"}),
        gateway.http.post("/graphql", json=body, headers=bearer),  # no X-Purpose
        gateway.post(VIEWER, key=token, headers={"X-Purpose": "Dossier du 14/03/1984"}),
        gateway.http.get("/graphql", params=body, headers=bearer),
    ]
    assert [r.status_code for r in refused] == [403, 400, 400, 405]
    records = gateway.records()
    assert [r["refusal"]["code"] for r in records] == [
        "FORBIDDEN_ROLE",
        "PURPOSE_REQUIRED",
        "BAD_USER_INPUT",
        "BAD_USER_INPUT",  # the 405
    ]
    assert {(r["client_id"], r["agent"]) for r in records} == {
        ("demo-client-all-roles", agent)
    }
    capsys.readouterr()
    main(["audit", "find", str(gateway.audit_file), "--agent", agent])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert all(f"agent={agent} " in line and "refused" in line for line in lines)
