"""Circuits, limiter and retry budget: pure logic, counted, never timed."""

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from citizen_graph import calls
from citizen_graph.connectors import _particulier_provider_error
from citizen_graph.connectors._client import ClientConfig, UpstreamClient
from citizen_graph.connectors._resilience import (
    CircuitBreaker,
    Circuits,
    Failure,
    RateLimitExceeded,
    RetryBudget,
    SlidingWindowLimiter,
)
from citizen_graph.errors import UpstreamUnavailable

pytestmark = pytest.mark.anyio


def test_breaker_opens_after_consecutive_failures_and_probes_once() -> None:
    breaker = CircuitBreaker(threshold=3, open_s=0.0)
    for _ in range(2):
        breaker.failure()
    assert breaker.state == "closed"
    breaker.failure()
    assert breaker.state in {"open", "half_open"}
    assert breaker.allow() is True  # the single probe (open_s = 0)
    assert breaker.allow() is False
    breaker.success()
    assert breaker.state == "closed"


def test_breaker_stays_open_during_its_open_period() -> None:
    breaker = CircuitBreaker(threshold=1, open_s=60.0)
    breaker.failure()
    assert breaker.state == "open"
    assert breaker.allow() is False


def test_a_failed_probe_reopens_the_circuit() -> None:
    breaker = CircuitBreaker(threshold=5, open_s=0.0)
    for _ in range(5):
        breaker.failure()
    assert breaker.allow() is True
    breaker.failure()
    assert breaker._opened_at is not None


async def test_limiter_refuses_a_slot_beyond_the_callers_deadline() -> None:
    limiter = SlidingWindowLimiter(max_calls=3, window_s=10.0)
    for _ in range(3):
        await limiter.acquire(max_wait_s=0.0)
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire(max_wait_s=1.0)


async def test_limiter_honours_retry_after() -> None:
    limiter = SlidingWindowLimiter(max_calls=100)
    limiter.pause(30.0)
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire(max_wait_s=5.0)


async def test_limiter_lets_calls_through_once_the_window_moved() -> None:
    limiter = SlidingWindowLimiter(max_calls=2, window_s=0.05, margin_s=0.0)
    results = await asyncio.gather(*(limiter.acquire(max_wait_s=5.0) for _ in range(5)))
    assert results == [None] * 5


def test_retry_budget_allows_about_one_retry_in_five_requests() -> None:
    budget = RetryBudget(ratio=0.2, cap=1.0)
    assert budget.withdraw() is True
    granted = 0
    for _ in range(50):
        budget.deposit()
        granted += budget.withdraw()
    assert granted == 10


def test_a_probe_that_never_reached_the_upstream_lets_another_try() -> None:
    breaker = CircuitBreaker(threshold=1, open_s=0.0)
    breaker.failure()
    assert breaker.allow() is True  # the probe…
    breaker.abandon()  # …found no slot before its deadline
    assert breaker.allow() is True


async def test_a_limiter_without_a_rate_only_honours_retry_after() -> None:
    limiter = SlidingWindowLimiter(max_calls=None)
    for _ in range(1000):
        await limiter.acquire(max_wait_s=0.0)
    limiter.pause(30.0)
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire(max_wait_s=5.0)


def fail(circuits: Circuits, client: str, times: int, kind: Failure) -> None:
    for _ in range(times):
        admission = circuits.admit(client)
        assert admission is not None, client
        circuits.failure(admission, kind)


def succeed(circuits: Circuits, client: str) -> None:
    admission = circuits.admit(client)
    assert admission is not None, client
    circuits.success(admission)


@pytest.mark.parametrize("kind", [Failure.CALL, Failure.SUBJECT])
def test_one_clients_failures_open_its_own_circuit_only(kind: Failure) -> None:
    circuits = Circuits(threshold=3, open_s=60.0)
    fail(circuits, "crafter", 3, kind)
    assert circuits.admit("crafter") is None
    assert circuits.state_of("crafter") == "open"
    assert circuits.shared.state == "closed"
    assert circuits.admit("other") is not None
    assert circuits.open_clients() == 1


def test_errors_about_one_person_never_open_the_shared_circuit() -> None:
    circuits = Circuits(threshold=3, open_s=60.0)
    for client in ("a", "b", "c", "d"):
        fail(circuits, client, 2, Failure.SUBJECT)
    assert circuits.shared.state == "closed"
    assert circuits.open_clients() == 0


def test_failures_from_two_clients_open_the_shared_circuit_for_all() -> None:
    circuits = Circuits(threshold=3, open_s=60.0)
    fail(circuits, "a", 2, Failure.CALL)
    assert circuits.shared.state == "closed"
    fail(circuits, "b", 1, Failure.CALL)
    assert circuits.shared.state == "open"
    assert circuits.admit("third") is None
    assert circuits.open_clients() == 0  # nobody's own circuit: the shared one cut them


def test_one_client_cannot_prime_the_shared_circuit_for_a_single_failure() -> None:
    circuits = Circuits(threshold=5, open_s=60.0)
    fail(circuits, "crafter", 4, Failure.CALL)  # counts for 3 of the 5 at most
    fail(circuits, "victim", 1, Failure.CALL)
    assert circuits.shared.state == "closed"
    fail(circuits, "victim", 1, Failure.CALL)  # a second, independent failure
    assert circuits.shared.state == "open"


def test_a_success_from_anyone_resets_the_shared_count() -> None:
    circuits = Circuits(threshold=3, open_s=60.0)
    fail(circuits, "a", 2, Failure.CALL)
    succeed(circuits, "c")
    fail(circuits, "b", 1, Failure.CALL)
    assert circuits.shared.state == "closed"
    fail(circuits, "b", 1, Failure.CALL)
    fail(circuits, "a", 1, Failure.CALL)
    assert circuits.shared.state == "open"


def test_failures_older_than_the_open_period_are_no_evidence() -> None:
    circuits = Circuits(threshold=3, open_s=0.05)
    fail(circuits, "a", 2, Failure.CALL)
    time.sleep(0.1)  # a minute later, in the attack the review found
    fail(circuits, "b", 1, Failure.CALL)
    assert circuits.shared.state == "closed"


def test_upstream_wide_failures_from_one_client_open_the_shared_circuit() -> None:
    circuits = Circuits(threshold=3, open_s=60.0)
    fail(circuits, "only", 3, Failure.UPSTREAM)
    assert circuits.shared.state == "open"
    assert circuits.admit("other") is None


def test_an_own_circuit_half_opens_and_lets_one_probe_through() -> None:
    circuits = Circuits(threshold=1, open_s=0.0)  # half-open at once
    fail(circuits, "a", 1, Failure.SUBJECT)
    probe = circuits.admit("a")
    assert probe is not None
    assert probe.probes == (probe.own,)
    assert circuits.admit("a") is None  # one probe at a time
    assert circuits.admit("b") is not None
    circuits.success(probe)
    assert circuits.state_of("a") == "closed"


def test_a_failed_own_probe_reopens_only_the_clients_circuit() -> None:
    circuits = Circuits(threshold=2, open_s=0.0)
    fail(circuits, "a", 2, Failure.CALL)
    fail(circuits, "a", 1, Failure.CALL)  # the probe
    assert circuits.state_of("a") != "closed"
    assert circuits.shared.state == "closed"


def test_a_failed_shared_probe_reopens_the_shared_circuit() -> None:
    circuits = Circuits(threshold=1, open_s=0.0)
    fail(circuits, "a", 1, Failure.UPSTREAM)
    probe = circuits.admit("b")
    assert probe is not None
    assert circuits.shared in probe.probes
    assert circuits.admit("c") is None
    circuits.failure(probe, Failure.CALL)
    assert circuits.shared._opened_at is not None
    assert circuits.shared.probing is False


def test_a_call_refused_by_the_shared_circuit_keeps_the_clients_probe() -> None:
    circuits = Circuits(threshold=1, open_s=0.0)
    fail(circuits, "a", 1, Failure.UPSTREAM)  # opens a's own and the shared circuit
    shared_probe = circuits.admit("b")
    assert shared_probe is not None
    assert circuits.admit("a") is None  # the shared probe is b's
    assert circuits.state_of("a") == "half_open"
    circuits.success(shared_probe)
    own_probe = circuits.admit("a")
    assert own_probe is not None
    assert own_probe.probes == (own_probe.own,)


def test_probes_that_never_reached_the_upstream_or_got_a_429_let_another_try() -> None:
    circuits = Circuits(threshold=1, open_s=0.0)
    fail(circuits, "a", 1, Failure.UPSTREAM)
    first = circuits.admit("b")
    assert first is not None
    circuits.abandon(first)  # no slot before its deadline
    second = circuits.admit("c")
    assert second is not None
    circuits.neutral(second)  # a 429
    third = circuits.admit("d")
    assert third is not None
    assert circuits.shared in third.probes


def test_abandoning_a_settled_call_does_not_free_another_probe() -> None:
    circuits = Circuits(threshold=1, open_s=0.0)
    early = circuits.admit("a")
    assert early is not None
    circuits.failure(early, Failure.UPSTREAM)
    probe = circuits.admit("b")
    assert probe is not None
    circuits.abandon(early)  # the finally of a call already counted
    assert circuits.admit("c") is None


def test_own_circuits_are_bounded() -> None:
    circuits = Circuits(threshold=1, open_s=60.0, max_clients=2)
    for client in ("a", "b", "c"):
        fail(circuits, client, 1, Failure.SUBJECT)
    assert circuits.open_clients() == 2
    assert circuits.state_of("a") == "closed"  # the least recently used went first


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but never listening: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_connection_errors_seen_by_one_client_cut_every_client(
    closed_port: int,
) -> None:
    config = ClientConfig(
        "ban", f"http://127.0.0.1:{closed_port}", 1.0, 1.0, 5, breaker_threshold=2
    )
    client = UpstreamClient(config)
    try:
        with (
            calls.request_scope(5.0, client="a") as first,
            pytest.raises(UpstreamUnavailable),
        ):
            await client.request("search", "GET", "/search")
        with (
            calls.request_scope(5.0, client="b") as second,
            pytest.raises(UpstreamUnavailable),
        ):
            await client.request("search", "GET", "/search")
    finally:
        await client.aclose()
    assert [c.status for c in first.calls] == [None, None]  # tried, retried once
    assert client.breaker.state == "open"
    assert second.calls == []  # b's call never left the gateway


def provider_error(code: str) -> httpx.Response:
    return httpx.Response(502, json={"errors": [{"code": code, "title": "Erreur"}]})


@pytest.mark.parametrize(
    ("answer", "attempts", "kind"),
    [
        (provider_error("23999"), 1, "an error about one person"),
        (provider_error("00999"), 2, "not a provider's code"),
        (httpx.Response(502, text="Bad Gateway"), 2, "not the envelope"),
    ],
)
async def test_only_a_provider_error_about_one_person_is_not_retried(
    answer: httpx.Response, attempts: int, kind: str
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answer

    config = ClientConfig("api_particulier", "https://upstream.test", 1.0, 1.0, 5)
    client = UpstreamClient(
        config,
        transport=httpx.MockTransport(handler),
        subject_error=_particulier_provider_error,
    )
    try:
        for caller in ("a", "b"):
            with calls.request_scope(5.0, client=caller):
                response = await client.request("family_quotient", "GET", "/qf")
            assert response.status_code == 502
    finally:
        await client.aclose()
    assert len(sent) == 2 * attempts, kind
