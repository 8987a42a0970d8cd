"""The console script: `schema` prints the SDL; `serve` with no config runs sandbox mode."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from citizen_graph.auth.audit import AuditConfig, AuditLog
from citizen_graph.auth.demo_keys import DEMO_KEYS
from citizen_graph.cli import main
from citizen_graph.schema import build_schema
from tests.processes import wait_until_ready
from tests.schema.test_limits import fan_out


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
        wait_until_ready(url, process, 60)
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
        # A fan-out document (once enough to freeze the process) is refused, and the
        # SIGTERM that follows is honoured.
        attack = httpx.post(
            f"{url}/graphql",
            json={"query": fan_out(64)},
            headers={"Authorization": "Bearer demo-social-services", "X-Purpose": "t"},
        )
        assert attack.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    banner = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert banner[0]["message"] == f"GraphiQL at {url}/graphql"
    assert "demo-family-portal" in {line.get("demo_key") for line in banner}
    record, refusal, seal = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert json.loads(record)["outcome"] == "ok"
    assert json.loads(refusal)["refusal"]["code"] == "QUERY_TOO_COMPLEX"
    assert json.loads(seal)["seal"]["reason"] == "shutdown"  # sealed on the way out
    main(["audit", "verify", str(tmp_path / "audit.jsonl")])  # the sandbox chain secret
    # uvicorn re-raises SIGTERM after its clean shutdown
    assert process.returncode in (0, -15)


def listeners(port: int) -> int:
    """Sockets listening on loopback `port`, from the kernel's table (state 0A: LISTEN)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    local = f"0100007F:{port:04X}"
    return sum(row.split()[1] == local and row.split()[3] == "0A" for row in rows)


def test_workers_each_get_their_own_socket_and_share_the_connections(
    tmp_path: Path,
) -> None:
    from citizen_graph.serving import listening_socket

    with listening_socket("127.0.0.1", 0, reuse_port=True) as sock:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
    port, sandbox_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "citizen_graph", "serve", "--workers", "2"),
            *("--port", str(port), "--sandbox-port", str(sandbox_port)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,  # where each worker's audit file goes
    )
    query = {"query": '{ citizen(fiscalNumber: "3000000000011") { id } }'}
    headers = {"Authorization": "Bearer demo-social-services", "X-Purpose": "test"}
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while listeners(port) < 2:  # both workers listen, each on its own socket
            assert process.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.2)
        for _ in range(24):  # a new connection each: the kernel spreads them by port
            with httpx.Client() as client:
                assert client.post(
                    f"{url}/graphql", json=query, headers=headers
                ).is_success
    finally:
        process.terminate()
        process.wait(timeout=30)
    files = sorted(tmp_path.glob("audit.jsonl.worker-*[0-9]"))
    assert len(files) == 2
    served = [
        sum('"outcome"' in line for line in f.read_text().splitlines()) for f in files
    ]
    assert sum(served) == 24
    assert min(served) > 0  # both workers answered (all 24 on one: a chance of 1 in 8M)
    assert process.returncode == 0


def audit_config_file(tmp_path: Path, chain_secret: str | None) -> Path:
    config = tmp_path / "gateway.toml"
    chain = f'chain_secret = "{chain_secret}"\n' if chain_secret else ""
    config.write_text(f'[audit]\nsecret = "subjects"\n{chain}')
    return config


def sealed_audit_file(tmp_path: Path, chain_secret: str) -> Path:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(AuditConfig(path, "subjects", chain_secret))
    log.write({"request_id": "one"})
    log.close()
    return path


def test_audit_verify_reads_the_chain_secret_from_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sealed_audit_file(tmp_path, "the-chain")
    config = audit_config_file(tmp_path, "the-chain")
    main(["audit", "verify", str(path), "--config", str(config)])
    assert "chain intact" in capsys.readouterr().out


def test_audit_verify_exits_1_under_another_chain_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sealed_audit_file(tmp_path, "the-chain")
    config = audit_config_file(tmp_path, "another-chain")
    with pytest.raises(SystemExit) as exited:
        main(["audit", "verify", str(path), "--config", str(config)])
    assert exited.value.code == 1
    out = capsys.readouterr()
    assert f"{path}.seal: the seal file is not signed by the chain key" in out.out
    assert "1 of 1 chain(s) broken" in out.err


def test_audit_verify_exits_2_when_the_config_lacks_the_chain_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sealed_audit_file(tmp_path, "the-chain")
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "audit",
                "verify",
                str(path),
                "--config",
                str(audit_config_file(tmp_path, None)),
            ]
        )
    assert exited.value.code == 2
    assert "audit.chain_secret is required" in capsys.readouterr().err


def test_audit_verify_notes_an_unsealed_tail_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sealed_audit_file(tmp_path, "the-chain")
    AuditLog(AuditConfig(path, "subjects", "the-chain")).write({"request_id": "two"})
    main(
        [
            "audit",
            "verify",
            str(path),
            "--config",
            str(audit_config_file(tmp_path, "the-chain")),
        ]
    )
    out = capsys.readouterr().out
    assert "1 records after the last seal (not sealed: the gateway is running" in out
    assert "chain intact" in out


def test_audit_verify_exits_1_on_a_truncated_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sealed_audit_file(tmp_path, "the-chain")
    path.write_text(path.read_text().splitlines()[0] + "\n")
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "audit",
                "verify",
                str(path),
                "--config",
                str(audit_config_file(tmp_path, "the-chain")),
            ]
        )
    assert exited.value.code == 1
    assert f"{path}: record 2: the tail was removed" in capsys.readouterr().out


def test_workers_split_the_rate_limits_and_keep_no_limit_as_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dataclasses

    from citizen_graph.cli import _prepare_workers
    from citizen_graph.settings import Settings

    for name in ("API_PARTICULIER", "BAN"):  # recorded, so what it sets is undone
        monkeypatch.setenv(f"CITIZEN_GRAPH_{name}_RATE_LIMIT_PER_S", "1")
        monkeypatch.delenv(f"CITIZEN_GRAPH_{name}_RATE_LIMIT_PER_S")
    monkeypatch.setenv("CITIZEN_GRAPH_SANDBOX_ENABLED", "false")
    settings = Settings()
    settings = dataclasses.replace(
        settings,
        server=dataclasses.replace(settings.server, workers=2),
        ban=dataclasses.replace(settings.ban, rate_limit_per_s=0),
    )
    prepared = _prepare_workers(settings)
    assert prepared.api_particulier.rate_limit_per_s == 10
    assert prepared.ban.rate_limit_per_s == 0  # "none" is not turned into 1 call/s


def test_workers_on_a_redis_keep_the_whole_rate_which_redis_counts_for_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dataclasses

    from citizen_graph.cli import _prepare_workers
    from citizen_graph.settings import Settings

    monkeypatch.setenv("CITIZEN_GRAPH_SANDBOX_ENABLED", "false")
    monkeypatch.setenv("CITIZEN_GRAPH_REDIS_URL", "redis://127.0.0.1:6379/0")
    settings = Settings()
    settings = dataclasses.replace(
        settings,
        server=dataclasses.replace(settings.server, workers=2),
        redis=dataclasses.replace(settings.redis, url="redis://127.0.0.1:6379/0"),
    )
    prepared = _prepare_workers(settings)
    assert prepared.api_particulier.rate_limit_per_s == 20


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """`serve` up to the server's start: the servers record their arguments instead, and
    what `serve` writes into the environment and the root logger is undone afterwards."""
    for name in (
        "SERVER_HOST",
        "SERVER_PORT",
        "SERVER_WORKERS",
        "SANDBOX_URL",
        "CONFIG",
    ):
        monkeypatch.setenv(f"CITIZEN_GRAPH_{name}", "recorded")
        monkeypatch.delenv(f"CITIZEN_GRAPH_{name}")
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(
        "citizen_graph.cli.uvicorn.run", lambda app, **kw: calls.append(kw)
    )
    monkeypatch.setattr(
        "citizen_graph.cli.serve_workers", lambda *args: calls.append({"workers": args})
    )
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield calls
    root.handlers[:] = handlers
    root.setLevel(level)


NETWORK_SANDBOX = (
    "pass --sandbox to serve the demo keys on a network, "
    "or --config for a real deployment"
)


@pytest.mark.parametrize(
    "argv",
    [
        ["--host", "0.0.0.0"],
        ["--host", "::"],
        ["--host", "192.0.2.10"],
        [
            "--host",
            "gateway.internal",
        ],  # a name other than localhost may resolve anywhere
        ["--host", "0.0.0.0", "--workers", "2"],
    ],
    ids=" ".join,
)
def test_serve_refuses_the_sandbox_on_a_network_host_without_the_sandbox_flag(
    argv: list[str],
    served: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", *argv])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert f"{argv[1]} is not a loopback address" in err
    assert NETWORK_SANDBOX in err
    assert served == []


def test_serve_refuses_a_network_host_named_by_the_environment_too(
    served: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CITIZEN_GRAPH_SERVER_HOST", "0.0.0.0")
    with pytest.raises(SystemExit) as exited:
        main(["serve"])
    assert exited.value.code == 1
    assert NETWORK_SANDBOX in capsys.readouterr().err
    assert served == []


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"]
)
def test_serve_runs_the_sandbox_on_a_loopback_host_without_the_flag(
    host: str, served: list[dict[str, Any]]
) -> None:
    main(["serve", "--host", host])
    assert [call["host"] for call in served] == [host]


def test_serve_runs_the_sandbox_on_a_network_host_given_the_sandbox_flag(
    served: list[dict[str, Any]],
) -> None:
    main(["serve", "--sandbox", "--host", "0.0.0.0"])
    assert [call["host"] for call in served] == ["0.0.0.0"]


def test_the_banner_is_json_log_lines_with_the_graphiql_url_and_each_demo_key(
    served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["serve", "--port", "8123", "--sandbox-url", "http://127.0.0.1:8124"])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    graphiql, sandbox, *keys = lines
    assert graphiql["message"] == "GraphiQL at http://127.0.0.1:8123/graphql"
    assert graphiql["url"] == "http://127.0.0.1:8123/graphql"
    assert sandbox["sandbox_url"] == "http://127.0.0.1:8124"
    assert {key["demo_key"]: tuple(key["roles"]) for key in keys} == {
        key: demo.roles for key, demo in DEMO_KEYS.items()
    }
    assert all(line["logger"] == "citizen_graph.cli" for line in lines)


@pytest.mark.parametrize(
    ("config", "environment", "said"),
    [
        ("[server]\nport = 8125\n", {}, "dgfip.base_url is required"),
        (
            '[sandbox]\nenabled = true\n[auth]\nclients_file = "none.toml"\n',
            {},
            "cannot read clients file",
        ),
        (None, {"CITIZEN_GRAPH_REDIS_URL": "redis//:pw@host"}, "redis.url must be"),
    ],
)
def test_a_configuration_error_stops_serve_with_one_line_before_any_server_starts(
    config: str | None,
    environment: dict[str, str],
    said: str,
    tmp_path: Path,
    served: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    argv = ["serve"]
    if config is not None:
        (tmp_path / "gateway.toml").write_text(config)
        argv += ["--config", str(tmp_path / "gateway.toml")]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert said in line
    assert "Traceback" not in line
    assert ":pw@" not in line
    assert served == []


def test_a_configured_gateway_serves_a_network_host_and_announces_no_demo_key(
    tmp_path: Path,
    served: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("citizen_graph.cli.preflight", lambda settings: None)
    config = tmp_path / "gateway.toml"
    config.write_text("[server]\nport = 8125\n")
    main(["serve", "--config", str(config), "--host", "0.0.0.0"])
    assert [call["host"] for call in served] == ["0.0.0.0"]
    [banner] = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert banner["url"] == "http://0.0.0.0:8125/graphql"
