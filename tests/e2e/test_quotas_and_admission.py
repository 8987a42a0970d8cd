"""Quotas per client and admission before execution: both refuse with HTTP 429
`RATE_LIMITED` and `Retry-After` before any upstream call, counted at the sandbox."""

from __future__ import annotations

import concurrent.futures

import httpx

from tests.conftest import GatewayClient, catalogue, upstream_calls
from tests.e2e.queries import MANY_CITIZENS, keys_of

ADDRESSES = """query($keys: [CitizenKeyInput!]!) {
  citizens(keys: $keys) { address { label } } }"""
AID = """query($keys: [CitizenKeyInput!]!) {
  citizens(keys: $keys) { familyQuotient { value } studentStatus { enrolled } } }"""
QUOTIENTS = """query($keys: [CitizenKeyInput!]!) {
  citizens(keys: $keys) { familyQuotient { value } } }"""
SMALL = "demo-quota-small"


def fiscal_keys(citizens: list[dict]) -> list[dict]:
    return [{"fiscalNumber": c["fiscalNumber"]} for c in citizens]


def test_a_quota_of_distinct_citizens_refuses_past_it_with_retry_after(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    citizens = catalogue(sandbox, 11)
    ten = {"keys": fiscal_keys(citizens[:10])}
    assert "errors" not in gateway.query(ADDRESSES, ten, key=SMALL)
    # The same ten again count once: still within the quota of ten.
    assert "errors" not in gateway.query(ADDRESSES, ten, key=SMALL)
    calls = upstream_calls(sandbox, "dgfip")
    refused = gateway.post(ADDRESSES, {"keys": fiscal_keys(citizens[10:])}, key=SMALL)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert "10 distinct citizens" in error["message"]
    assert upstream_calls(sandbox, "dgfip") == calls  # nothing fetched for it


def test_another_clients_quota_is_its_own(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    citizens = catalogue(sandbox, 11)
    gateway.query(ADDRESSES, {"keys": fiscal_keys(citizens[:10])}, key=SMALL)
    other = gateway.post(
        ADDRESSES, {"keys": fiscal_keys(citizens)}, key="demo-address-check"
    )
    assert other.status_code == 200


def test_a_request_that_cannot_fit_its_deadline_is_refused_before_any_call(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    citizens = catalogue(sandbox, 100)
    refused = gateway.post(AID, {"keys": keys_of(citizens)})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    fits = error["extensions"]["maxCitizens"]
    assert 0 < fits < 100
    assert str(fits) in error["message"]
    assert upstream_calls(sandbox, "api_particulier") == 0
    assert upstream_calls(sandbox, "dgfip") == 0
    # The batch size the message names does fit: served whole, no 429 from upstream.
    served = gateway.post(AID, {"keys": keys_of(citizens[:fits])})
    assert served.status_code == 200
    codes = {e["extensions"]["code"] for e in served.json().get("errors", [])}
    assert codes <= {"NOT_FOUND"}
    stats = sandbox.get("/_sandbox/stats").json()["upstreams"]["api_particulier"]
    assert "429" not in stats["statuses"]


def test_two_clients_each_get_their_own_twenty_calls_per_second(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    # 80 calls each, side by side: at one shared 20 calls/s they would not fit the
    # deadline; each client's own bucket serves them whole.
    citizens = catalogue(sandbox, 160, known_by="cnaf")
    halves = {
        "demo-family-portal": citizens[:80],
        "demo-social-services": citizens[80:],
    }
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda item: gateway.post(
                    QUOTIENTS, {"keys": keys_of(item[1])}, key=item[0]
                ),
                halves.items(),
            )
        )
    for answer in answers:
        assert answer.status_code == 200
        codes = {e["extensions"]["code"] for e in answer.json().get("errors", [])}
        assert codes <= {"NOT_FOUND"}
    stats = sandbox.get("/_sandbox/stats").json()["upstreams"]["api_particulier"]
    assert "429" not in stats["statuses"]
    assert sorted(stats["credentials"].values()) == [80, 80]  # two tokens, 80 each


def test_the_benchmark_setting_lifts_the_demo_quotas(
    start_gateway: object, sandbox: httpx.Client
) -> None:
    gateway = start_gateway(sandbox={"demo_quota": 0})  # type: ignore[operator]
    citizens = catalogue(sandbox, 30)
    for start in (0, 10, 20):  # the small key keeps its own ten
        keys = {"keys": fiscal_keys(citizens[start : start + 10])}
        status = gateway.post(ADDRESSES, keys, key=SMALL).status_code
        assert status == (200 if start == 0 else 429)
    assert gateway.post(MANY_CITIZENS, {"keys": keys_of(citizens)}).status_code == 200
