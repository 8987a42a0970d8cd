"""Apollo's automatic persisted queries, with the protocol's exact messages: a hash alone
until it is known, then the hash with its query, then the hash alone again (also over GET,
also on another replica through Redis), for the client that sent it only; every refusal is
the contract's JSON and leaves one audit record."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import ALICE, FAMILY, SOCIAL, GatewayClient, upstream_calls
from tests.redis_server import RedisServer

QUERY = (
    "query Name($f: String) { citizen(fiscalNumber: $f) { identity { birthName } } }"
)
HASH = hashlib.sha256(QUERY.encode()).hexdigest()
HEADERS = {"Authorization": f"Bearer {SOCIAL}", "X-Purpose": "Tests automatiques"}


def persisted(digest: str = HASH, version: object = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


def post(
    gateway: GatewayClient, body: dict[str, Any], key: str = SOCIAL
) -> httpx.Response:
    headers = HEADERS | {"Authorization": f"Bearer {key}"}
    return gateway.http.post("/graphql", json=body, headers=headers)


def records(gateway: GatewayClient) -> list[dict[str, Any]]:
    return gateway.records() if gateway.audit_file.exists() else []


def get(gateway: GatewayClient, headers: dict[str, str] = HEADERS) -> httpx.Response:
    params = {
        "extensions": json.dumps(persisted()),
        "variables": json.dumps({"f": ALICE}),
        "operationName": "Name",
    }
    return gateway.http.get("/graphql", params=params, headers=headers)


def test_an_unknown_hash_asks_for_the_query_without_any_upstream_call(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    response = post(gateway, {"extensions": persisted(), "variables": {"f": ALICE}})
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert upstream_calls(sandbox, "dgfip") == 0


def test_the_hash_with_its_query_runs_and_the_hash_alone_then_runs_it_again(
    gateway: GatewayClient,
) -> None:
    first = post(
        gateway, {"query": QUERY, "extensions": persisted(), "variables": {"f": ALICE}}
    )
    again = post(gateway, {"extensions": persisted(), "variables": {"f": ALICE}})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.json()["data"]["citizen"]["identity"]["birthName"] == "FICTIF"


def test_a_hash_that_does_not_match_its_query_is_refused(
    gateway: GatewayClient,
) -> None:
    response = post(
        gateway, {"query": QUERY, "extensions": persisted("0" * 64), "variables": {}}
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["message"] == "provided sha does not match query"
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    unknown = post(gateway, {"extensions": persisted("0" * 64)})
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"


@pytest.mark.parametrize("version", [2, 0, True, 1.0, "1", None])
def test_any_version_but_the_integer_1_is_not_supported(
    gateway: GatewayClient, sandbox: httpx.Client, version: object
) -> None:
    body = {"query": QUERY, "extensions": persisted(version=version)}
    refused = post(gateway, body | {"variables": {"f": ALICE}})
    assert refused.status_code == 400
    [error] = refused.json()["errors"]
    assert error["message"] == "PersistedQueryNotSupported"
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert upstream_calls(sandbox, "dgfip") == 0


def test_a_malformed_hash_is_refused(gateway: GatewayClient) -> None:
    malformed = post(gateway, {"extensions": persisted("not-a-hash")})
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_version_too_long_to_read_over_get_is_refused_without_a_traceback(
    gateway: GatewayClient, caplog: pytest.LogCaptureFixture
) -> None:
    extensions = '{"persistedQuery": {"version": 1' + "0" * 5000 + "}}"
    with caplog.at_level(logging.INFO):
        response = gateway.http.get(
            "/graphql", params={"extensions": extensions}, headers=HEADERS
        )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        ({"extensions": persisted()}, "PERSISTED_QUERY_NOT_FOUND", 200),
        ({"query": QUERY, "extensions": persisted("0" * 64)}, "BAD_USER_INPUT", 400),
        ({"extensions": persisted("not-a-hash")}, "BAD_USER_INPUT", 400),
        ({"query": QUERY, "extensions": persisted(version=2)}, "BAD_USER_INPUT", 400),
    ],
    ids=["unknown hash", "hash mismatch", "malformed hash", "version 2"],
)
def test_each_protocol_refusal_leaves_one_record_without_the_document_or_its_hash(
    gateway: GatewayClient, body: dict[str, Any], code: str, status: int
) -> None:
    """An unknown hash too: the protocol's first step, and how hashes are probed."""
    response = post(gateway, body | {"variables": {"f": ALICE}})
    assert response.status_code == status
    [record] = records(gateway)
    assert record["refusal"] == {"code": code, "status": status}
    assert record["client_id"] == "demo-client-social-services"
    text = gateway.audit_file.read_text()
    for secret in (ALICE, HASH, "birthName"):
        assert secret not in text


def test_a_hash_another_client_registered_is_not_found_for_this_one(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    registered = post(
        gateway, {"query": QUERY, "extensions": persisted(), "variables": {"f": ALICE}}
    )
    assert registered.json()["data"]["citizen"]["identity"]["birthName"] == "FICTIF"
    calls = upstream_calls(sandbox, "dgfip")
    other = post(
        gateway, {"extensions": persisted(), "variables": {"f": ALICE}}, FAMILY
    )
    assert other.status_code == 200
    [error] = other.json()["errors"]
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert "data" not in other.json() or other.json()["data"] is None
    assert upstream_calls(sandbox, "dgfip") == calls
    own = post(gateway, {"extensions": persisted(), "variables": {"f": ALICE}})
    assert own.json() == registered.json()


def test_a_hashed_query_is_served_over_get_as_json_with_the_credential(
    gateway: GatewayClient,
) -> None:
    unknown = get(gateway)
    assert unknown.status_code == 200
    assert unknown.headers["content-type"].startswith("application/json")
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    post(
        gateway, {"query": QUERY, "extensions": persisted(), "variables": {"f": ALICE}}
    )
    served = get(gateway)
    assert served.status_code == 200
    assert served.json()["data"]["citizen"]["identity"]["birthName"] == "FICTIF"
    anonymous = get(gateway, headers={})
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_get_carrying_a_document_without_its_hash_is_refused_with_the_contracts_json(
    gateway: GatewayClient,
) -> None:
    for params in ({"query": QUERY}, {"query": QUERY, "extensions": "{}"}):
        response = gateway.http.get("/graphql", params=params, headers=HEADERS)
        assert response.status_code == 405
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "POST" in error["message"]


def test_a_query_registered_over_get_with_its_hash_runs_as_apollos_protocol_allows(
    gateway: GatewayClient,
) -> None:
    params = {
        "query": QUERY,
        "extensions": json.dumps(persisted()),
        "variables": json.dumps({"f": ALICE}),
    }
    registered = gateway.http.get("/graphql", params=params, headers=HEADERS)
    assert registered.status_code == 200
    assert registered.json()["data"]["citizen"]["identity"]["birthName"] == "FICTIF"
    assert get(gateway).json() == registered.json()  # then by its hash alone
    mismatched = params | {"extensions": json.dumps(persisted("0" * 64))}
    refused = gateway.http.get("/graphql", params=mismatched, headers=HEADERS)
    assert refused.json()["errors"][0]["message"] == "provided sha does not match query"


def test_a_query_registered_on_one_replica_runs_by_its_hash_on_another(
    start_gateway: Callable[..., GatewayClient],
    redis_url: str,
    redis_server: RedisServer,
) -> None:
    """For the client that registered it only: another's hash misses on every replica."""
    inline = f'{{ citizen(fiscalNumber: "{ALICE}") {{ identity {{ birthName }} }} }}'
    digest = hashlib.sha256(inline.encode()).hexdigest()
    first, second = (start_gateway(redis={"url": redis_url}) for _ in range(2))
    post(first, {"query": inline, "extensions": persisted(digest)})
    served = post(second, {"extensions": persisted(digest)})
    assert served.json()["data"]["citizen"]["identity"]["birthName"] == "FICTIF"
    for gateway in (first, second):
        other = post(gateway, {"extensions": persisted(digest)}, FAMILY)
        [error] = other.json()["errors"]
        assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    with redis_server.client() as client:
        assert len(list(client.scan_iter("*:persisted:*"))) == 1
        stored = b" ".join(
            key + b" " + (client.get(key) or b"")
            for key in client.scan_iter()
            if client.type(key) == b"string"
        )
    assert (
        ALICE.encode() not in stored
    )  # the document, inline identifier included, is sealed
    assert b"birthName" not in stored
