"""`/metrics`, read with prometheus_client's own parser: requests and their durations,
upstream exchanges counted where they happen, cache lookups, refusals, circuits and Redis;
no label carries a personal value; with `--workers 2` every request is counted once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.conftest import (
    ALICE,
    ALICE_IDENTITY,
    PAUL,
    GatewayClient,
    catalogue,
    metric,
    upstream_calls,
)
from tests.e2e.queries import ONE_CITIZEN
from tests.processes import wait_until_ready
from tests.redis_server import free_port

NAME = "query($f: String) { citizen(fiscalNumber: $f) { identity { birthName } } }"
ADDRESSES = """query($keys: [CitizenKeyInput!]!) {
  citizens(keys: $keys) { address { city } } }"""


def samples(text: str) -> list[Sample]:
    return [
        s for family in text_string_to_metric_families(text) for s in family.samples
    ]


def scrape(gateway: GatewayClient) -> str:
    response = gateway.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_requests_are_counted_with_their_durations_by_outcome(
    gateway: GatewayClient,
) -> None:
    gateway.query(NAME, {"f": ALICE})
    gateway.post(NAME, {"f": ALICE}, key="not-a-key")
    text = scrape(gateway)
    assert metric(text, "citizen_graph_requests_total", status="200") == 1
    assert metric(text, "citizen_graph_requests_total", status="401") == 1
    histogram = "citizen_graph_request_duration_seconds_count"
    assert metric(text, histogram, outcome="ok") == 1
    assert metric(text, histogram, outcome="refused") == 1


def test_every_upstream_exchange_is_counted_once_as_the_sandbox_counts_it(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    gateway.query(ONE_CITIZEN, {"fiscalNumber": ALICE, "identity": ALICE_IDENTITY})
    gateway.query(ONE_CITIZEN, {"fiscalNumber": ALICE, "identity": ALICE_IDENTITY})
    text = scrape(gateway)
    for upstream in ("dgfip", "api_particulier", "ban"):
        counted = metric(text, "citizen_graph_upstream_calls_total", source=upstream)
        # The sandbox also counts the DGFiP token request, which is no operation's.
        assert counted == upstream_calls(sandbox, upstream), upstream
    durations = "citizen_graph_upstream_request_duration_seconds_count"
    assert metric(text, durations, source="dgfip", operation="tax_history") == 1
    assert (
        metric(
            text,
            "citizen_graph_upstream_calls_total",
            source="api_particulier",
            operation="student_status",
            status="404",  # ALICE is no student
        )
        == 1
    )


def test_cache_lookups_say_hit_coalesced_and_miss(gateway: GatewayClient) -> None:
    gateway.query(NAME, {"f": ALICE})
    gateway.query(NAME, {"f": ALICE})
    text = scrape(gateway)
    lookups = "citizen_graph_cache_lookups_total"
    assert metric(text, lookups, operation="tax_history", result="miss") == 1
    assert metric(text, lookups, operation="tax_history", result="hit") == 1


def test_refusals_before_any_call_are_counted_by_reason(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    citizens = catalogue(sandbox, 11)
    keys = [{"fiscalNumber": c["fiscalNumber"]} for c in citizens]
    refused = gateway.post(ADDRESSES, {"keys": keys}, key="demo-quota-small")
    assert refused.status_code == 429
    text = scrape(gateway)
    assert metric(text, "citizen_graph_refusals_total", reason="quota") == 1
    assert metric(text, "citizen_graph_requests_total", status="429") == 1


def test_circuits_and_build_are_gauges_and_redis_is_absent_when_off(
    gateway: GatewayClient,
) -> None:
    text = scrape(gateway)
    assert metric(text, "citizen_graph_circuit_open", source="dgfip") == 0
    assert metric(text, "citizen_graph_client_circuits_open", source="ban") == 0
    assert metric(text, "citizen_graph_build_info") == 1
    assert "citizen_graph_redis_up" not in {s.name for s in samples(text)}


def test_redis_availability_is_a_gauge(
    start_gateway: Callable[..., GatewayClient], redis_url: str
) -> None:
    gateway = start_gateway(redis={"url": redis_url})
    assert metric(scrape(gateway), "citizen_graph_redis_up") == 1


def test_no_label_carries_a_personal_value_or_a_key(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    gateway.query(ONE_CITIZEN, {"fiscalNumber": ALICE, "identity": ALICE_IDENTITY})
    gateway.post(NAME, {"f": PAUL}, key="wrong-key")
    labels = " ".join(
        " ".join(s.labels.values()) for s in samples(scrape(gateway))
    ).upper()
    for personal in (ALICE, PAUL, "FICTIF", "LAMBERT", "ALICE", "1984", "WRONG-KEY"):
        assert personal not in labels
    assert "DEMO-" not in labels  # neither keys nor client ids


@pytest.fixture
def two_workers(sandbox: httpx.Client, tmp_path: Path) -> Iterator[str]:
    """`citizen-graph serve --workers 2` against the session's sandbox."""
    port = free_port()
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("CITIZEN_GRAPH_")
    } | {"CITIZEN_GRAPH_AUDIT_FILE": str(tmp_path / "audit.jsonl")}
    command = [sys.executable, "-m", "citizen_graph", "serve", "--workers", "2"]
    command += ["--port", str(port), "--sandbox-url", str(sandbox.base_url)]
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(command, env=environment, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, 60)
        time.sleep(1.0)  # both workers up: readiness answers with the first
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_with_two_workers_every_request_is_counted_once_whoever_is_scraped(
    two_workers: str,
) -> None:
    headers = {"Authorization": "Bearer demo-social-services", "X-Purpose": "Tests"}
    body = {"query": NAME, "variables": {"f": ALICE}}
    for _ in range(30):  # fresh connections: the kernel spreads them over both sockets
        with httpx.Client(base_url=two_workers) as client:
            assert (
                client.post("/graphql", json=body, headers=headers).status_code == 200
            )
    for _ in range(10):
        with httpx.Client(base_url=two_workers) as client:
            text = client.get("/metrics").text
        assert metric(text, "citizen_graph_requests_total") == 30
    assert metric(text, "citizen_graph_request_duration_seconds_count") == 30
