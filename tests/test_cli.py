"""The console script: `schema` prints the SDL; `serve` with no config runs sandbox mode."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from citizen_graph.cli import main
from citizen_graph.schema import build_schema


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_schema_prints_the_sdl(capsys: pytest.CaptureFixture[str]) -> None:
    main(["schema"])
    assert capsys.readouterr().out.strip() == build_schema().as_str().strip()


def test_bad_settings_exit_with_a_message(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITIZEN_GRAPH_SERVER_PORTS", "1")
    with pytest.raises(SystemExit) as exited:
        main(["serve"])
    assert exited.value.code == 2
    assert "CITIZEN_GRAPH_SERVER_PORTS" in capsys.readouterr().err


@pytest.mark.timeout(90)
def test_serve_without_config_runs_the_embedded_sandbox_and_demo_keys(
    tmp_path: Path,
) -> None:
    port, sandbox_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "citizen_graph",
            "serve",
            "--port",
            str(port),
            "--sandbox-port",
            str(sandbox_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,  # where the audit trail goes
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.2)
        response = httpx.post(
            f"{url}/graphql",
            json={
                "query": '{ citizen(fiscalNumber: "3000000000011") { identity { birthName } } }'
            },
            headers={
                "Authorization": "Bearer demo-social-services",
                "X-Purpose": "test",
            },
        )
        assert response.json()["data"]["citizen"]["identity"]["birthName"] == "FICTIF"
        sandbox = httpx.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/stats")
        assert sandbox.json()["upstreams"]["dgfip"]["calls"] >= 1
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert "GraphiQL at" in output
    assert "demo-family-portal" in output
    assert (tmp_path / "audit.jsonl").read_text().count("\n") == 1
    # uvicorn re-raises SIGTERM after its clean shutdown
    assert process.returncode in (0, -15)
