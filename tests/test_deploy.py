"""The Dockerfile and the deploy/ example: two replicas behind a load balancer, one Redis, one
sandbox, Prometheus scraping each replica. Checked as files (no Docker daemon needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # uvicorn[standard] brings PyYAML

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
REPLICAS = ["gateway-1", "gateway-2"]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def instructions(name: str) -> list[str]:
    """The Dockerfile's `name` instructions, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        line.split(None, 1)[1]
        for line in text.splitlines()
        if line.startswith(name + " ")
    ]


def test_the_image_runs_as_a_numeric_user_and_pins_pip() -> None:
    assert instructions("USER") == ["10001:10001"]
    runs = " ".join(instructions("RUN"))
    assert re.search(r"pip install [^&]*pip==\d+(\.\d+)+", runs)
    assert "--upgrade pip" not in runs


def test_the_image_probes_healthz_in_exec_form_and_serves_the_sandbox_explicitly() -> (
    None
):
    [healthcheck] = instructions("HEALTHCHECK")
    probe = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert probe[:2] == ["python", "-c"]
    assert "http://127.0.0.1:8000/healthz" in probe[2]
    compile(probe[2], "<healthcheck>", "exec")
    [command] = instructions("CMD")
    assert json.loads(command) == [
        *("serve", "--sandbox", "--host", "0.0.0.0", "--port", "8000")
    ]


def test_compose_runs_two_replicas_a_redis_a_sandbox_prometheus_and_a_load_balancer(
    compose: dict[str, Any],
) -> None:
    assert set(compose["services"]) == {
        *REPLICAS,
        *("redis", "sandbox", "prometheus", "load-balancer"),
    }
    sandbox = compose["services"]["sandbox"]
    assert sandbox["build"]["context"] == ".."
    assert sandbox["command"][:3] == ["sandbox", "--host", "0.0.0.0"]


@pytest.mark.parametrize("replica", REPLICAS)
def test_each_replica_names_the_redis_the_sandbox_and_its_own_audit_file(
    replica: str, compose: dict[str, Any]
) -> None:
    service = compose["services"][replica]
    assert service["build"]["context"] == ".."
    environment = service["environment"]
    assert environment["CITIZEN_GRAPH_REDIS_URL"] == "redis://redis:6379/0"
    assert environment["CITIZEN_GRAPH_REDIS_KEY"]
    assert environment["CITIZEN_GRAPH_REDIS_REPLICAS"] == str(len(REPLICAS))
    command = service["command"]
    assert command[command.index("--sandbox-url") + 1] == "http://sandbox:8001"
    assert "--sandbox" in command  # the demo keys on a network: asked for
    assert command[command.index("--host") + 1] == "0.0.0.0"
    audit = environment["CITIZEN_GRAPH_AUDIT_FILE"]
    others = [
        compose["services"][other]["environment"]["CITIZEN_GRAPH_AUDIT_FILE"]
        for other in REPLICAS
        if other != replica
    ]
    assert audit not in others  # one writer per audit file


def test_prometheus_scrapes_every_replica_on_its_own(compose: dict[str, Any]) -> None:
    mounted = compose["services"]["prometheus"]["volumes"]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounted
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    assert targets == [f"{replica}:8000" for replica in REPLICAS]


def test_the_load_balancer_lists_every_replica(compose: dict[str, Any]) -> None:
    balancer = compose["services"]["load-balancer"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in balancer["volumes"]
    nginx = (DEPLOY / "nginx.conf").read_text()
    upstream = re.search(r"upstream citizen_graph \{(.*?)\}", nginx, re.S)
    assert upstream is not None
    servers = re.findall(r"^\s*server (\S+)", upstream.group(1), re.M)
    assert servers == [f"{replica}:8000" for replica in REPLICAS]
    assert "proxy_pass http://citizen_graph;" in nginx
    [published] = balancer["ports"]
    listen = re.search(r"listen (\d+);", nginx)
    assert listen is not None
    assert published.endswith(f":{listen[1]}")
