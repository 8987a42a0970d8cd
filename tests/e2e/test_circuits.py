"""Circuits per client and shared: one client's crafted failures cut only that client, an
upstream that really fails is cut for everyone. Counted at the sandbox, never timed."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from citizen_graph.serving import ThreadedServer
from citizen_graph.settings import BreakerSettings
from tests.conftest import (
    ALICE_IDENTITY,
    FAMILY,
    SOCIAL,
    GatewayClient,
    configured_settings,
    metric,
    serving,
    upstream_calls,
)

ALL_ROLES = "demo-all-roles"
BREAKER: dict[str, Any] = {"failure_threshold": 3, "open_s": 30.0}
FAMILY_QUOTIENT = """query($i: PivotIdentityInput) {
  citizen(identity: $i) { familyQuotient { value } } }"""
# API Particulier answers 502 "Erreur du fournisseur" (23999) for this identity only.
CRAFTED = ALICE_IDENTITY | {"birthPlaceCode": "00502"}


def family_quotient_error(
    gateway: GatewayClient, key: str, identity: dict
) -> str | None:
    result = gateway.query(FAMILY_QUOTIENT, {"i": identity}, key=key)
    errors = result.get("errors") or [{}]
    return errors[0].get("extensions", {}).get("code")


def shared_circuit(gateway: GatewayClient, upstream: str) -> str:
    ready = gateway.http.get("/readyz").json()
    state: str = ready["upstreams"][upstream]["circuit"]
    return state


def craft_failures(gateway: GatewayClient, sandbox: httpx.Client) -> None:
    for _ in range(6):
        code = family_quotient_error(gateway, FAMILY, CRAFTED)
        assert code == "UPSTREAM_UNAVAILABLE"
    # one call each until the crafter's own circuit opened: an error about one person
    # is not retried
    assert upstream_calls(sandbox, "api_particulier") == BREAKER["failure_threshold"]


def test_one_clients_crafted_failures_do_not_cut_another_client(
    start_gateway: Callable[..., GatewayClient], sandbox: httpx.Client
) -> None:
    gateway = start_gateway(breaker=BREAKER)
    craft_failures(gateway, sandbox)
    before = upstream_calls(sandbox, "api_particulier")
    assert family_quotient_error(gateway, SOCIAL, ALICE_IDENTITY) is None
    assert upstream_calls(sandbox, "api_particulier") == before + 1
    assert shared_circuit(gateway, "api_particulier") == "closed"


def test_the_crafting_clients_own_circuit_opens(
    start_gateway: Callable[..., GatewayClient], sandbox: httpx.Client
) -> None:
    gateway = start_gateway(breaker=BREAKER)
    craft_failures(gateway, sandbox)
    before = upstream_calls(sandbox, "api_particulier")
    code = family_quotient_error(gateway, FAMILY, ALICE_IDENTITY)
    assert code == "UPSTREAM_UNAVAILABLE"
    assert upstream_calls(sandbox, "api_particulier") == before


def test_a_real_outage_seen_by_two_clients_opens_the_circuit_for_a_third(
    start_gateway: Callable[..., GatewayClient], sandbox: httpx.Client
) -> None:
    gateway = start_gateway(breaker=BREAKER)
    sandbox.put(
        "/_sandbox/faults/api_particulier", json={"outage": True}
    ).raise_for_status()
    for key in (FAMILY, SOCIAL):
        assert family_quotient_error(gateway, key, ALICE_IDENTITY) == (
            "UPSTREAM_UNAVAILABLE"
        )
    assert shared_circuit(gateway, "api_particulier") == "open"
    before = upstream_calls(sandbox, "api_particulier")
    code = family_quotient_error(gateway, ALL_ROLES, ALICE_IDENTITY)
    assert code == "UPSTREAM_UNAVAILABLE"
    assert upstream_calls(sandbox, "api_particulier") == before


def test_one_client_alone_in_an_outage_opens_only_its_own_circuit(
    start_gateway: Callable[..., GatewayClient], sandbox: httpx.Client
) -> None:
    gateway = start_gateway(breaker=BREAKER)
    sandbox.put(
        "/_sandbox/faults/api_particulier", json={"status": 503, "error_rate": 1.0}
    ).raise_for_status()
    for _ in range(3):
        family_quotient_error(gateway, FAMILY, ALICE_IDENTITY)
    calls = upstream_calls(sandbox, "api_particulier")
    assert calls == BREAKER["failure_threshold"]  # 2 + 1, then its circuit opened
    assert shared_circuit(gateway, "api_particulier") == "closed"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but never listening: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def gateway_without_api_particulier(
    sandbox: httpx.Client,
    sandbox_server: ThreadedServer,
    closed_port: int,
    tmp_path: Path,
) -> Iterator[GatewayClient]:
    """A gateway outside sandbox mode (which would point every upstream at the sandbox):
    DGFiP and BAN at the sandbox, API Particulier at a port that refuses connections."""
    settings = configured_settings(sandbox_server.url, tmp_path)
    settings = dataclasses.replace(
        settings,
        # the demo clients, not sandbox mode
        sandbox=dataclasses.replace(settings.sandbox, demo_keys=True),
        breaker=BreakerSettings(**BREAKER),
        api_particulier=dataclasses.replace(
            settings.api_particulier, base_url=f"http://127.0.0.1:{closed_port}"
        ),
    )
    with serving(settings, tmp_path / "audit.jsonl") as client:
        yield client


def attempted_calls(gateway: GatewayClient, upstream: str) -> int:
    """Upstream exchanges the gateway itself counted (answered or failed)."""
    text = gateway.http.get("/metrics").text
    return int(metric(text, "citizen_graph_upstream_calls_total", source=upstream))


def test_connection_errors_seen_by_one_client_open_the_shared_circuit(
    gateway_without_api_particulier: GatewayClient,
) -> None:
    gateway = gateway_without_api_particulier
    for _ in range(2):  # each call tried twice: 4 refused connections ≥ 3
        code = family_quotient_error(gateway, FAMILY, ALICE_IDENTITY)
        assert code == "UPSTREAM_UNAVAILABLE"
    assert attempted_calls(gateway, "api_particulier") == 3  # opened at the third
    assert shared_circuit(gateway, "api_particulier") == "open"
    code = family_quotient_error(gateway, SOCIAL, ALICE_IDENTITY)
    assert code == "UPSTREAM_UNAVAILABLE"
    assert attempted_calls(gateway, "api_particulier") == 3  # never left the gateway
