"""Two gateways on one Redis behave, toward the State's APIs, like one gateway: a citizen
fetched by one is served by the other, a call in flight is never duplicated, the token's
20 calls/s hold across both, and a lost Redis only degrades them (CONTRACT.md §8)."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import (
    ALICE,
    ALICE_IDENTITY,
    CAMILLE,
    FAMILY,
    JEAN,
    PAUL,
    GatewayClient,
    catalogue,
    upstream_calls,
)
from tests.e2e.queries import MANY_CITIZENS, ONE_CITIZEN, keys_of
from tests.redis_server import RedisServer

UPSTREAMS = ("dgfip", "api_particulier", "ban")
QUOTIENTS = """query($keys: [CitizenKeyInput!]!) {
  citizens(keys: $keys) { familyQuotient { value } } }"""
QUOTIENT = """query($identity: PivotIdentityInput) {
  citizen(identity: $identity) { familyQuotient { value } } }"""


def calls(sandbox: httpx.Client) -> dict[str, int]:
    return {upstream: upstream_calls(sandbox, upstream) for upstream in UPSTREAMS}


@pytest.fixture
def replicas(
    start_gateway: Callable[..., GatewayClient], redis_url: str
) -> tuple[GatewayClient, GatewayClient]:
    return tuple(  # type: ignore[return-value]
        # Sandbox, both gateways and the test share one process here: on a loaded
        # 2-core machine its event loops stall past the default 0.5 s, which would read
        # as a lost Redis (tested on its own below).
        start_gateway(redis={"url": redis_url, "replicas": 2, "timeout_s": 3.0})
        for _ in range(2)
    )


def test_readiness_says_whether_redis_is_used(
    start_gateway: Callable[..., GatewayClient], redis_url: str
) -> None:
    assert start_gateway().http.get("/readyz").json()["redis"] == "off"
    shared = start_gateway(redis={"url": redis_url})
    assert shared.http.get("/readyz").json()["redis"] == "ok"


def test_a_second_replica_serves_a_citizen_the_first_fetched_with_no_upstream_call(
    replicas: tuple[GatewayClient, GatewayClient], sandbox: httpx.Client
) -> None:
    first, second = replicas
    keys = {"keys": [{"fiscalNumber": f} for f in (ALICE, PAUL, CAMILLE, JEAN)]}
    keys["keys"][0]["identity"] = ALICE_IDENTITY
    fetched = first.query(MANY_CITIZENS, keys)
    assert calls(sandbox)["dgfip"] > 0
    sandbox.delete("/_sandbox/stats")
    served = second.query(MANY_CITIZENS, keys)
    assert calls(sandbox) == {"dgfip": 0, "api_particulier": 0, "ban": 0}
    assert served == fetched  # every record type survives the shared cache whole


def test_fifty_identical_requests_across_both_replicas_make_one_call_per_upstream(
    replicas: tuple[GatewayClient, GatewayClient], sandbox: httpx.Client
) -> None:
    for upstream in UPSTREAMS:  # slow answers: the requests overlap the calls
        sandbox.put(f"/_sandbox/faults/{upstream}", json={"latency_ms": 400})
    variables = {"fiscalNumber": ALICE, "identity": ALICE_IDENTITY}
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        answers = list(
            pool.map(lambda i: replicas[i % 2].post(ONE_CITIZEN, variables), range(50))
        )
    assert {a.status_code for a in answers} == {200}
    bodies = [a.json() for a in answers]
    assert all(b == bodies[0] for b in bodies), [b for b in bodies if b != bodies[0]][
        :1
    ]
    assert upstream_calls(sandbox, "dgfip") == 1
    assert upstream_calls(sandbox, "ban") == 1
    # ALICE is no student: MESRI's 404 is one call too, its absence shared.
    assert upstream_calls(sandbox, "api_particulier", "quotient_familial") == 1
    assert upstream_calls(sandbox, "api_particulier", "statut_etudiant") == 1


def test_both_replicas_under_load_stay_within_the_tokens_twenty_calls_per_second(
    replicas: tuple[GatewayClient, GatewayClient], sandbox: httpx.Client
) -> None:
    citizens = catalogue(sandbox, 80, known_by="cnaf")
    halves = [citizens[:40], citizens[40:]]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda i: replicas[i].post(
                    QUOTIENTS, {"keys": keys_of(halves[i])}, key=FAMILY
                ),
                range(2),
            )
        )
    stats = sandbox.get("/_sandbox/stats").json()["upstreams"]["api_particulier"]
    assert "429" not in stats["statuses"]
    assert list(stats["credentials"].values()) == [80]  # one token for both replicas
    for answer in answers:
        assert answer.status_code == 200
        codes = {e["extensions"]["code"] for e in answer.json().get("errors", [])}
        assert codes <= {"NOT_FOUND"}


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.close()


def wait_for_redis(gateway: GatewayClient, status: str) -> None:
    deadline = time.monotonic() + 10
    while gateway.http.get("/readyz").json()["redis"] != status:
        assert time.monotonic() < deadline, f"/readyz never said redis {status}"
        time.sleep(0.05)


def test_a_lost_redis_degrades_the_gateway_which_answers_and_recovers_by_itself(
    start_gateway: Callable[..., GatewayClient],
    own_redis: RedisServer,
    sandbox: httpx.Client,
) -> None:
    gateway = start_gateway(redis={"url": own_redis.url, "retry_s": 0.05})
    variables = {"fiscalNumber": ALICE, "identity": ALICE_IDENTITY}
    assert gateway.query(ONE_CITIZEN, variables)["data"]["citizen"]["taxNotice"]
    own_redis.stop()
    others = {"fiscalNumber": PAUL}
    answer = gateway.post(ONE_CITIZEN, others)  # the first command finds it lost
    assert answer.status_code == 200
    assert answer.json()["data"]["citizen"]["taxNotice"]
    assert gateway.http.get("/readyz").json()["redis"] == "degraded"
    assert gateway.http.get("/readyz").status_code == 200  # still in the pool
    assert gateway.query(ONE_CITIZEN, {"fiscalNumber": CAMILLE})["data"]["citizen"]
    own_redis.start()
    wait_for_redis(gateway, "ok")
    gateway.query(ONE_CITIZEN, {"fiscalNumber": JEAN})
    with own_redis.client() as client:
        assert client.dbsize() > 0  # shared again


def test_the_cache_in_redis_holds_no_fiscal_number_name_or_birth_date_in_clear(
    start_gateway: Callable[..., GatewayClient],
    redis_url: str,
    redis_server: RedisServer,
    sandbox: httpx.Client,
) -> None:
    gateway = start_gateway(redis={"url": redis_url})
    citizens = catalogue(sandbox, 20, known_by="cnaf")
    answer = gateway.query(MANY_CITIZENS, {"keys": keys_of(citizens)})
    assert answer["data"]["citizens"]
    secrets_ = set()
    for citizen in citizens:
        identity = citizen["identity"]
        secrets_ |= {
            citizen["fiscalNumber"],
            identity["birthName"],
            identity["birthDate"],
        }
        secrets_ |= set(identity["givenNames"])
        secrets_.add(identity["birthDate"].replace("-", ""))  # the sandbox's own format
    stored = []
    with redis_server.client() as client:
        for key in client.scan_iter(count=1000):
            stored.append(key)
            kind = client.type(key)
            if kind == b"string":
                stored.append(client.get(key) or b"")
            elif kind == b"zset":
                stored += [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
    assert len(stored) > 20
    blob = b"\n".join(stored).upper()
    leaked = [s for s in secrets_ if s.upper().encode() in blob]
    assert leaked == []
