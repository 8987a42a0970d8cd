"""Apollo's automatic persisted queries, with the protocol's exact messages: a hash alone
until it is known, then the hash with its query, then the hash alone again (also over GET,
also on another replica through Redis); every refusal is the contract's JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import ALICE, SOCIAL, GatewayClient, upstream_calls
from tests.redis_server import RedisServer

QUERY = (
    "query Name($f: String) { citizen(fiscalNumber: $f) { identity { birthName } } }"
)
HASH = hashlib.sha256(QUERY.encode()).hexdigest()
HEADERS = {"Authorization": f"Bearer {SOCIAL}", "X-Purpose": "Tests automatiques"}


def persisted(digest: str = HASH, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


def post(gateway: GatewayClient, body: dict[str, Any]) -> httpx.Response:
    return gateway.http.post("/graphql", json=body, headers=HEADERS)


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


def test_another_protocol_version_or_a_malformed_hash_is_refused(
    gateway: GatewayClient,
) -> None:
    other = post(gateway, {"query": QUERY, "extensions": persisted(version=2)})
    assert other.json()["errors"][0]["message"] == "PersistedQueryNotSupported"
    malformed = post(gateway, {"extensions": persisted("not-a-hash")})
    assert malformed.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


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
    inline = f'{{ citizen(fiscalNumber: "{ALICE}") {{ identity {{ birthName }} }} }}'
    digest = hashlib.sha256(inline.encode()).hexdigest()
    first, second = (start_gateway(redis={"url": redis_url}) for _ in range(2))
    post(first, {"query": inline, "extensions": persisted(digest)})
    served = post(second, {"extensions": persisted(digest)})
    assert served.json()["data"]["citizen"]["identity"]["birthName"] == "FICTIF"
    with redis_server.client() as client:
        stored = b" ".join(
            key + b" " + (client.get(key) or b"")
            for key in client.scan_iter()
            if client.type(key) == b"string"
        )
    assert (
        ALICE.encode() not in stored
    )  # the document, inline identifier included, is sealed
    assert b"birthName" not in stored
