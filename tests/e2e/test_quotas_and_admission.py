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
    refused = gateway.post(MANY_CITIZENS, {"keys": keys_of(citizens)})  # all fields
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    fits = error["extensions"]["maxCitizens"]
    assert 0 < fits < 100
    assert str(fits) in error["message"]
    for upstream in ("dgfip", "api_particulier", "ban"):
        assert upstream_calls(sandbox, upstream) == 0, upstream
    # The batch size the message names does fit: served whole, no 429 from upstream.
    served = gateway.post(MANY_CITIZENS, {"keys": keys_of(citizens[:fits])})
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


def test_concurrent_requests_of_one_habilitation_cannot_together_overrun_it(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    citizens = catalogue(sandbox, 200, known_by="cnaf")
    batches = [citizens[:100], citizens[100:]]  # 100 calls each: both do not fit
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda batch: gateway.post(QUOTIENTS, {"keys": keys_of(batch)}), batches
            )
        )
    assert sorted(a.status_code for a in answers) == [200, 429]
    [served] = [a for a in answers if a.status_code == 200]
    codes = {e["extensions"]["code"] for e in served.json().get("errors", [])}
    assert codes <= {"NOT_FOUND"}  # served whole: the other one was refused up front
    assert upstream_calls(sandbox, "api_particulier") == 100


def test_a_slow_upstream_narrows_what_fits_and_the_named_batch_still_fits(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    citizens = catalogue(sandbox, 120, known_by="cnaf")
    sandbox.put("/_sandbox/faults/api_particulier", json={"latency_ms": 2500})
    # Ten answers teach the gateway how long an answer now takes.
    warm = gateway.post(QUOTIENTS, {"keys": keys_of(citizens[:10])})
    assert warm.status_code == 200
    refused = gateway.post(AID, {"keys": keys_of(citizens[10:110])})
    assert refused.status_code == 429
    fits = refused.json()["errors"][0]["extensions"]["maxCitizens"]
    assert 0 < fits < 50
    served = gateway.post(AID, {"keys": keys_of(citizens[10 : 10 + fits])})
    assert served.status_code == 200
    codes = {e["extensions"]["code"] for e in served.json().get("errors", [])}
    assert codes <= {"NOT_FOUND"}


def test_one_persons_fiscal_number_with_anothers_identity_counts_twice(
    start_gateway: object, sandbox: httpx.Client
) -> None:
    gateway = start_gateway(sandbox={"demo_quota": 2})  # type: ignore[operator]
    first, second = catalogue(sandbox, 2, known_by="cnaf")
    mixed = [{"fiscalNumber": first["fiscalNumber"], "identity": second["identity"]}]
    query = """query($keys: [CitizenKeyInput!]!) {
      citizens(keys: $keys) { identity { birthName } familyQuotient { value } } }"""
    assert (
        gateway.post(query, {"keys": mixed}, key="demo-family-portal").status_code
        == 200
    )
    # Two people were looked up: the quota of two is spent.
    other = [{"fiscalNumber": second["fiscalNumber"]}]
    assert (
        gateway.post(query, {"keys": other}, key="demo-family-portal").status_code
        == 429
    )
