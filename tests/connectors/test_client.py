"""What `UpstreamClient` does with real answers: retries, circuits, pauses and logs, counted at
a scripted upstream on loopback (or at a port that refuses connections), never timed."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from citizen_graph import request_scope
from citizen_graph.connectors import api_particulier
from citizen_graph.connectors._client import UpstreamClient
from citizen_graph.connectors.dgfip import DgfipConnector
from citizen_graph.errors import UpstreamUnavailable
from citizen_graph.telemetry import JsonFormatter, configure_logging
from tests.conftest import ALICE
from tests.connectors.conftest import SCRIPTED, Answer, ScriptedUpstream

pytestmark = pytest.mark.anyio

OpenClient = Callable[..., UpstreamClient]

DISABLED = "The upstream is temporarily disabled."
SATURATED = "The upstream is saturated."
NO_RATE_SLOT = "The upstream's rate limit leaves no slot in time."


async def call(
    client: UpstreamClient,
    caller: str = "a",
    method: str = "GET",
    deadline_s: float = 5.0,
) -> int | str:
    """The status the client returned, or the message of the error it raised."""
    with request_scope.open_scope(deadline_s, client=caller):
        try:
            response = await client.request("search", method, "/search/")
        except UpstreamUnavailable as error:
            return error.message
    return response.status_code


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but never listening: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize("status", [500, 504])
async def test_upstream_5xx_answers_open_the_circuit(
    status: int, upstream: ScriptedUpstream, open_client: OpenClient
) -> None:
    upstream.otherwise = Answer(status)
    client = open_client(breaker_threshold=3)
    answers = [await call(client, "a") for _ in range(4)]
    assert answers == [status, status, status, DISABLED]
    assert len(upstream.received) == 3  # the fourth never left the gateway
    assert client.circuits.state_of("a") == "open"
    assert client.breaker.state == "closed"  # one organisation cuts only itself
    assert await call(client, "b") == status  # a second organisation sees it fail
    assert client.breaker.state == "open"
    assert await call(client, "c") == DISABLED
    assert len(upstream.received) == 4


async def test_a_429_is_not_retried(
    upstream: ScriptedUpstream, open_client: OpenClient
) -> None:
    upstream.script = [Answer(429, {"Retry-After": "1"})]
    client = open_client(breaker_threshold=1)
    assert await call(client) == 429
    assert len(upstream.received) == 1
    # and it counts for no circuit: the shared quota is spent, the upstream works
    assert (client.circuits.state_of("a"), client.breaker.state) == ("closed", "closed")


async def test_retries_stop_when_the_budget_is_spent(
    upstream: ScriptedUpstream, open_client: OpenClient
) -> None:
    upstream.otherwise = Answer(503)
    client = open_client(breaker_threshold=1000)
    attempts = []
    for _ in range(17):
        before = len(upstream.received)
        assert await call(client) == 503
        attempts.append(len(upstream.received) - before)
    # Ten retries saved up and a fifth of one earned per request: twelve requests are
    # retried, then one in five.
    assert attempts == [2] * 12 + [1] * 4 + [2]


async def test_a_429_pauses_calls_until_retry_after(
    upstream: ScriptedUpstream, open_client: OpenClient
) -> None:
    upstream.script = [Answer(429, {"Retry-After": "30"})]
    long_pause = open_client()
    assert await call(long_pause, "a") == 429
    assert await call(long_pause, "b", deadline_s=5.0) == NO_RATE_SLOT  # any caller
    assert len(upstream.received) == 1

    upstream.script = [Answer(429, {"Retry-After": "1"})]
    short_pause = open_client()
    assert await call(short_pause, "a") == 429
    assert await call(short_pause, "b", deadline_s=0.5) == NO_RATE_SLOT
    assert len(upstream.received) == 2
    assert await call(short_pause, "b", deadline_s=5.0) == 200  # sent once it passed
    assert len(upstream.received) == 3


async def test_a_probe_that_found_no_slot_does_not_keep_the_circuit_open(
    upstream: ScriptedUpstream, open_client: OpenClient
) -> None:
    release = threading.Event()
    upstream.script = [Answer(500), Answer(hold=release)]
    # one connection; a's circuit opens at its first failure and half-opens at once
    client = open_client(max_connections=1, breaker_threshold=1, breaker_open_s=0.0)
    assert await call(client, "a") == 500
    holder = asyncio.create_task(call(client, "b"))  # holds the only connection
    try:
        await until(lambda: len(upstream.received) == 2)
        assert await call(client, "a", deadline_s=0.2) == SATURATED  # a's probe
    finally:
        release.set()
    assert await holder == 200
    assert await call(client, "a") == 200  # another probe went through…
    assert client.circuits.state_of("a") == "closed"  # …and closed the circuit
    assert len(upstream.received) == 3


@pytest.mark.parametrize("status", [502, 503])
async def test_post_requests_are_never_retried(
    status: int, upstream: ScriptedUpstream, open_client: OpenClient
) -> None:
    upstream.otherwise = Answer(status)
    client = open_client(breaker_threshold=1000)
    assert await call(client, method="GET") == status
    assert len(upstream.received) == 2  # a GET is retried once…
    assert await call(client, method="POST") == status
    assert len(upstream.received) == 3  # …a POST never


async def test_a_post_whose_connection_was_refused_is_not_retried(
    open_client: OpenClient, closed_port: int
) -> None:
    client = open_client(base_url=f"http://127.0.0.1:{closed_port}")
    for method, attempts in (("GET", 2), ("POST", 1)):
        with (
            request_scope.open_scope(5.0, client=method) as scope,
            pytest.raises(UpstreamUnavailable),
        ):
            await client.request("search", method, "/search/")
        assert len(scope.calls) == attempts, method


async def test_after_a_failed_probe_a_later_probe_is_allowed(
    upstream: ScriptedUpstream, open_client: OpenClient
) -> None:
    upstream.script = [Answer(500), Answer(500)]
    client = open_client(breaker_threshold=1, breaker_open_s=0.0)  # half-open at once
    assert await call(client, "a") == 500  # opens a's circuit
    assert await call(client, "a") == 500  # the probe fails
    assert await call(client, "a") == 200  # a later probe is let through
    assert len(upstream.received) == 3


async def test_connection_errors_seen_by_one_client_cut_every_client(
    open_client: OpenClient, closed_port: int
) -> None:
    client = open_client(
        base_url=f"http://127.0.0.1:{closed_port}",
        read_timeout_s=1.0,
        breaker_threshold=2,
    )
    with (
        request_scope.open_scope(5.0, client="a") as first,
        pytest.raises(UpstreamUnavailable),
    ):
        await client.request("search", "GET", "/search")
    with (
        request_scope.open_scope(5.0, client="b") as second,
        pytest.raises(UpstreamUnavailable),
    ):
        await client.request("search", "GET", "/search")
    assert [c.status for c in first.calls] == [None, None]  # tried, retried once
    assert client.breaker.state == "open"
    assert second.calls == []  # b's call never left the gateway


def provider_error(code: str) -> Answer:
    body = b'{"errors": [{"code": "%s", "title": "Erreur"}]}' % code.encode()
    return Answer(502, body=body)


@pytest.mark.parametrize(
    ("answer", "attempts", "kind"),
    [
        (provider_error("23999"), 1, "an error about one person"),
        (provider_error("00999"), 2, "not a provider's code"),
        (Answer(502, body=b"Bad Gateway"), 2, "not the envelope"),
    ],
)
async def test_only_a_provider_error_about_one_person_is_not_retried(
    answer: Answer,
    attempts: int,
    kind: str,
    upstream: ScriptedUpstream,
    open_client: OpenClient,
) -> None:
    upstream.otherwise = answer
    client = open_client(
        "api_particulier", subject_error=api_particulier.provider_error
    )
    for caller in ("a", "b"):
        assert await call(client, caller) == 502
    assert len(upstream.received) == 2 * attempts, kind


@contextmanager
def production_logging(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The CLI's logging configuration, with pytest's capture kept; restored after."""
    root = logging.getLogger()
    noisy = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    saved = root.handlers[:], root.level, [logger.level for logger in noisy]
    configure_logging("DEBUG")
    root.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for logger, level in zip(noisy, saved[2], strict=True):
            logger.setLevel(level)


async def test_upstream_failure_logs_carry_no_url_or_fiscal_number(
    upstream: ScriptedUpstream,
    open_client: OpenClient,
    closed_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    upstream.script = [Answer(500), Answer(503), Answer(503), Answer(hold=release)]
    answering = DgfipConnector(open_client("dgfip"), "test")
    refusing = DgfipConnector(
        open_client("dgfip", base_url=f"http://127.0.0.1:{closed_port}"), "test"
    )
    # a 500, a 503 retried, no answer before the deadline, a refused connection (retried)
    attempts = [(answering, 5.0), (answering, 5.0), (answering, 0.3), (refusing, 5.0)]
    with production_logging(caplog):
        try:
            for connector, deadline_s in attempts:
                with (
                    request_scope.open_scope(deadline_s),
                    pytest.raises(UpstreamUnavailable),
                ):
                    await connector.tax_history(ALICE, SCRIPTED)
        finally:
            release.set()
    assert len(upstream.received) == 4
    # The gateway's lines; the scripted upstream's own access log is not the gateway's.
    lines = [
        JsonFormatter().format(record)
        for record in caplog.records
        if record.name != "uvicorn.access"
    ]
    failures = [line for line in lines if "citizen_graph.upstream" in line]
    assert len(failures) == 5  # one line per failed answer or exchange
    for line in lines:
        for forbidden in (ALICE, "127.0.0.1", "/spi/", "impotparticulier", "http://"):
            assert forbidden not in line, line


async def test_capacity_counts_the_connection_slots_at_the_answers_time(
    open_client: OpenClient,
) -> None:
    client = open_client("api_particulier", rate_limit_per_s=20, max_connections=20)
    fast = client.capacity("token", 8.0)
    client._latency_s = 2.5  # answers take 2.5 s (3.85 s, pessimistically)
    slow = client.capacity("token", 8.0)
    assert slow == 20 * 1  # 3.85 s per answer: one round of the 20 slots in 7.5 s
    assert fast > slow


async def test_reserved_calls_are_released_as_they_start_or_when_the_request_ends(
    open_client: OpenClient,
) -> None:
    client = open_client("api_particulier", rate_limit_per_s=20)
    free = client.capacity("token", 8.0)
    with request_scope.open_scope(8.0):
        client.reserve("token", 10)
        assert client.capacity("token", 8.0) == free - 10
        assert request_scope.start_reserved((id(client), "token"))
        client._release("token", 1)
        assert client.capacity("token", 8.0) == free - 9
    assert client.capacity("token", 8.0) == free


async def test_upstream_calls_go_through_aiohttps_pool_not_httpcores(
    upstream: ScriptedUpstream,
    open_client: OpenClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpcore

    pooled = 0
    original = httpcore.AsyncConnectionPool.handle_async_request

    async def counting(self: Any, request: Any) -> Any:
        nonlocal pooled
        pooled += 1
        return await original(self, request)

    monkeypatch.setattr(httpcore.AsyncConnectionPool, "handle_async_request", counting)
    client = open_client()
    for _ in range(3):
        assert await call(client) == 200
    assert len(upstream.received) == 3
    assert pooled == 0  # httpcore's pool (a check of every connection per call) unused
