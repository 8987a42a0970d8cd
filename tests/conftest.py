"""Real servers on loopback: one sandbox per session, a fresh gateway per test."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.datastructures import Secret

from citizen_graph.app import create_app
from citizen_graph.connectors import point_at_sandbox
from citizen_graph.sandbox import create_sandbox_app
from citizen_graph.serving import ThreadedServer
from citizen_graph.settings import (
    AuditSettings,
    SandboxSettings,
    ServerSettings,
    Settings,
)
from tests.redis_server import RedisServer

SOCIAL = "demo-social-services"
FAMILY = "demo-family-portal"
STUDENT_AID = "demo-student-aid"
ADDRESS_CHECK = "demo-address-check"

# The sandbox's fixed citizens (README "Sandbox test citizens").
ALICE = "3000000000011"  # married to PAUL: one notice, CNAF family quotient
PAUL = "3000000000012"
CAMILLE = "3000000000021"  # student, not taxable, unknown to CAF
JEAN = "3000000000031"  # MSA file
NOE = "3000000000041"  # tax address the BAN cannot find

ALICE_IDENTITY = {
    "birthName": "FICTIF",
    "usageName": "LAMBERT",
    "givenNames": ["ALICE", "MARIE"],
    "birthDate": "1984-03-14",
    "sex": "F",
    "birthCountryCode": "99100",
    "birthPlaceCode": "35238",
}


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's shell never changes a result."""
    import os

    for name in list(os.environ):
        if name.startswith("CITIZEN_GRAPH_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[ThreadedServer]:
    with ThreadedServer(create_sandbox_app(), lifespan="off") as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: ThreadedServer) -> Iterator[httpx.Client]:
    """A client of the sandbox, with call counters and faults reset."""
    with httpx.Client(base_url=sandbox_server.url, timeout=30) as client:
        client.delete("/_sandbox/stats").raise_for_status()
        client.delete("/_sandbox/faults").raise_for_status()
        yield client
        client.delete("/_sandbox/faults")


def gateway_settings(sandbox_url: str, **overrides: dict[str, Any]) -> Settings:
    sandbox = SandboxSettings(enabled=True, url=sandbox_url, demo_keys=True)
    settings = Settings(sandbox=sandbox)
    for section, values in overrides.items():  # by name: each test's own sections
        changed = dataclasses.replace(getattr(settings, section), **values)
        settings = dataclasses.replace(settings, **{section: changed})
    return settings


def configured_settings(sandbox_url: str, tmp_path: Path) -> Settings:
    """A gateway outside sandbox mode (no demo keys) whose upstreams are the sandbox's."""
    settings = Settings(
        # Not sandbox mode: only where it is, for tests that mint the demo keys there.
        sandbox=SandboxSettings(url=sandbox_url),
        audit=AuditSettings(
            file=str(tmp_path / "audit.jsonl"),
            secret=Secret("audit"),
            chain_secret=Secret("chain"),
        ),
        server=ServerSettings(id_secret=Secret("ids")),
    )
    return point_at_sandbox(settings, sandbox_url)


@contextmanager
def serving(settings: Settings, audit_file: Path) -> Iterator[GatewayClient]:
    """A gateway on a free loopback port for a `with` block (module-scoped fixtures)."""
    with ThreadedServer(create_app(settings)) as server:
        client = GatewayClient(server.url, audit_file)
        yield client
        client.http.close()


@pytest.fixture(scope="module")
def module_gateway(
    sandbox_server: ThreadedServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayClient]:
    """One gateway for a whole module whose requests change no state (fuzz, echo): a
    gateway per test would be restarted hundreds of times."""
    audit_file = tmp_path_factory.mktemp("module") / "audit.jsonl"
    settings = gateway_settings(sandbox_server.url, audit={"file": str(audit_file)})
    with serving(settings, audit_file) as client:
        yield client


@pytest.fixture
def start_gateway(
    sandbox: httpx.Client, sandbox_server: ThreadedServer, tmp_path: Path
) -> Iterator[Callable[..., GatewayClient]]:
    """Start a gateway against the session sandbox, with optional setting overrides.

    Its audit trail goes to `GatewayClient.audit_file` under the test's tmp_path.
    """
    started: list[tuple[ThreadedServer, GatewayClient]] = []

    def start(**overrides: dict[str, Any]) -> GatewayClient:
        audit_file = tmp_path / f"audit-{len(started)}.jsonl"
        overrides = {"audit": {"file": str(audit_file)}} | overrides
        app = create_app(gateway_settings(sandbox_server.url, **overrides))
        server = ThreadedServer(app).start()
        client = GatewayClient(server.url, audit_file, app)
        started.append((server, client))
        return client

    yield start
    for server, client in started:
        client.http.close()
        server.stop()


@pytest.fixture
def gateway(start_gateway: Callable[..., GatewayClient]) -> GatewayClient:
    return start_gateway()


class GatewayClient:
    def __init__(self, url: str, audit_file: Path, app: Any = None) -> None:
        self.url = url
        self.audit_file = audit_file
        self.app = app  # the Starlette app, for tests that look at its services
        self.http = httpx.Client(base_url=url, timeout=30)

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        key: str | None = SOCIAL,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = {"X-Purpose": "Tests automatiques"} | (headers or {})
        if key is not None:
            all_headers["Authorization"] = f"Bearer {key}"
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return self.http.post("/graphql", json=body, headers=all_headers)

    def query(
        self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        response = self.post(query, variables, **kwargs)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def records(self) -> list[dict[str, Any]]:
        """The audit records written so far, oldest first."""
        return [json.loads(line) for line in self.audit_file.read_text().splitlines()]


def upstream_calls(sandbox: httpx.Client, upstream: str, route_part: str = "") -> int:
    """Calls the sandbox received on one upstream (token requests excluded)."""
    stats = sandbox.get("/_sandbox/stats").json()["upstreams"][upstream]
    return sum(
        n
        for route, n in stats["routes"].items()
        if route_part in route and not route.endswith("/token")
    )


def metric(text: str, name: str, **labels: str) -> float:
    """From `/metrics` text, read with prometheus_client's parser: the sum of the samples
    named `name` whose labels include `labels`."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def catalogue(
    sandbox: httpx.Client, limit: int, **filters: str
) -> list[dict[str, Any]]:
    params = {"limit": str(limit)} | filters
    citizens: list[dict[str, Any]] = sandbox.get(
        "/_sandbox/citizens", params=params
    ).json()["citizens"]
    return citizens


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One Redis for the session; each test that uses it starts from an empty one."""
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    with redis_server.client() as client:
        client.flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"
