"""The real JavaScript clients against a live gateway (tests/js, pinned by its lockfile):
Apollo Client's persisted-query link and urql's `persistedExchange` ask by hash, send the
query on `PersistedQueryNotFound`, then are served by hash; what went over the wire is
recorded by the clients' own fetch and checked against the gateway's `/metrics`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ALICE, SOCIAL, GatewayClient, metric

JS = Path(__file__).parents[1] / "js"
INSTALL_TIMEOUT_S = 90
RUN_TIMEOUT_S = 30

pytestmark = [
    pytest.mark.usefixtures("node_modules"),
    # The first test installs: on a slow network, past the 60 s default.
    pytest.mark.timeout(INSTALL_TIMEOUT_S + RUN_TIMEOUT_S),
]


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """tests/js/node_modules, installed once per session from the lockfile."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed: the JavaScript clients run under Node")
    version = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 20:
        pytest.skip(f"node and npm are needed: Node 20 or newer, found {version}")
    install(JS)
    return JS / "node_modules"


def install(folder: Path) -> None:
    """`npm ci`, or a skip saying why it failed (offline: after one retry, ~10 s)."""
    command = ["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"]
    command += ["--fetch-retries=1", "--fetch-retry-maxtimeout=10000"]
    try:
        installed = subprocess.run(
            command,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(
            f"node and npm are needed: `npm ci` took over {INSTALL_TIMEOUT_S} s"
        )
    if installed.returncode != 0:
        first = (installed.stderr.strip().splitlines() or ["no message"])[0]
        pytest.skip(f"node and npm are needed: `npm ci` failed ({first})")


def run_client(gateway: GatewayClient, name: str) -> dict[str, Any]:
    """One client's two runs of the query, and the HTTP exchanges it made for them."""
    command = ["node", "clients.mjs", f"{gateway.url}/graphql", SOCIAL, ALICE, name]
    ran = subprocess.run(
        command, cwd=JS, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    assert ran.returncode == 0, ran.stderr
    output: dict[str, Any] = json.loads(ran.stdout.splitlines()[-1])[name]
    return output


def birth_names(output: dict[str, Any]) -> list[str | None]:
    return [
        ((result["data"] or {}).get("citizen") or {})
        .get("identity", {})
        .get("birthName")
        for result in output["results"]
    ]


def wire(output: dict[str, Any]) -> list[tuple[str, bool, int, list[str]]]:
    """Each exchange as (method, carried the query, HTTP status, error codes)."""
    return [
        (e["method"], e["withQuery"], e["status"], e["errors"])
        for e in output["exchanges"]
    ]


def requests_counted(gateway: GatewayClient, status: str) -> float:
    text = gateway.http.get("/metrics").text
    return metric(text, "citizen_graph_requests_total", status=status)


def test_apollos_link_sends_the_query_once_then_is_served_by_hash_over_get(
    gateway: GatewayClient,
) -> None:
    output = run_client(gateway, "apollo")
    assert birth_names(output) == ["FICTIF", "FICTIF"]
    assert wire(output) == [
        ("GET", False, 200, ["PERSISTED_QUERY_NOT_FOUND"]),
        ("POST", True, 200, []),
        ("GET", False, 200, []),
    ]
    assert all(e["withHash"] for e in output["exchanges"])
    assert requests_counted(gateway, "200") == 3  # the gateway saw exactly those


def test_urqls_exchange_over_post_sends_the_query_once_then_the_hash_alone(
    gateway: GatewayClient,
) -> None:
    output = run_client(gateway, "urql-post")
    assert birth_names(output) == ["FICTIF", "FICTIF"]
    assert wire(output) == [
        ("POST", False, 200, ["PERSISTED_QUERY_NOT_FOUND"]),
        ("POST", True, 200, []),
        ("POST", False, 200, []),
    ]
    assert requests_counted(gateway, "200") == 3


def test_urqls_exchange_preferring_get_is_served_by_hash_over_get(
    gateway: GatewayClient,
) -> None:
    output = run_client(gateway, "urql")
    assert [e["status"] for e in output["exchanges"]] == [200, 200, 200]
    assert birth_names(output) == ["FICTIF", "FICTIF"]
    assert wire(output)[-1] == ("GET", False, 200, [])
    assert requests_counted(gateway, "405") == 0
