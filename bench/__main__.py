"""`make bench`: the gateway against the naive baseline, each in its own process, per profile.

For each latency profile of the sandbox (`none`, `realistic`) and each target (the gateway,
the naive baseline of bench/naive.py), it runs three scenarios and prints one table:
requests/s, p50 and p99 latency, upstream calls per query (counted by the sandbox), gateway
CPU ms per query (from /proc), failed fields per query (errors other than NOT_FOUND), and
the baseline/gateway ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.queries import MANY_CITIZENS, ONE_CITIZEN

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
HEADERS = {"Authorization": "Bearer demo-social-services", "X-Purpose": "Benchmark"}


@dataclass(frozen=True)
class Scenario:
    name: str
    requests: int
    concurrency: int
    batch: int  # citizens per query
    warm: bool  # the same query every time (after one warm-up request)


@dataclass
class Row:
    profile: str
    target: str
    scenario: str
    rps: float
    p50_ms: float
    p99_ms: float
    calls_per_query: float
    cpu_ms_per_query: float
    errors_per_query: float


def scenarios(quick: bool, profile: str) -> list[Scenario]:
    slow = profile == "realistic"
    n = 8 if quick else (24 if slow else 60)
    return [
        Scenario("one citizen, all fields", n, 4, 1, False),
        Scenario("50 citizens, all fields", 2 if quick else 3, 1, 50, False),
        Scenario("the same query warm", n * 4, 4, 1, True),
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def process(args: list[str], ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process (its logs go to bench/results/, never to an unread pipe)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = (RESULTS / f"{args[2 if args[1] == '-m' else 1].replace('.', '-')}.log").open(
        "ab"
    )
    # The demo keys' quotas (1,000 distinct citizens per 60 s) are lifted: the benchmark
    # asks for fresh citizens on purpose (contract §7).
    env = os.environ | {"CITIZEN_GRAPH_SANDBOX_DEMO_QUOTA": "0"}
    proc = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=log, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(ready_url, timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args} did not start; see {log.name}")
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def upstream_calls(sandbox: httpx.Client) -> int:
    stats = sandbox.get("/_sandbox/stats").json()["upstreams"]
    return sum(
        n
        for upstream in stats.values()
        for route, n in upstream["routes"].items()
        if not route.endswith("/token")
    )


def keys_for(citizens: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"fiscalNumber": c["fiscalNumber"], "identity": c["identity"]} for c in citizens
    ]


async def drive(
    url: str, scenario: Scenario, citizens: list[dict[str, Any]]
) -> tuple[list[float], int, float]:
    """Send the scenario's requests; return latencies (s), errors and wall time (s)."""

    def body(i: int) -> dict[str, Any]:
        if scenario.batch == 1:
            c = citizens[0 if scenario.warm else i]
            return {
                "query": ONE_CITIZEN,
                "variables": {
                    "fiscalNumber": c["fiscalNumber"],
                    "identity": c["identity"],
                },
            }
        block = citizens[i * scenario.batch : (i + 1) * scenario.batch]
        return {"query": MANY_CITIZENS, "variables": {"keys": keys_for(block)}}

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=scenario.concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        if scenario.warm:
            await client.post("/graphql", json=body(0), headers=HEADERS)
        queue = iter(range(scenario.requests))

        async def worker() -> None:
            nonlocal errors
            for i in queue:
                started = time.perf_counter()
                response = await client.post("/graphql", json=body(i), headers=HEADERS)
                latencies.append(time.perf_counter() - started)
                errors += failures(response)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(scenario.concurrency)))
        wall = time.perf_counter() - started
    return latencies, errors, wall


def failures(response: httpx.Response) -> int:
    """Errors that are failures: NOT_FOUND is an answer (the person is unknown there)."""
    if response.status_code != 200:
        return 1
    return sum(
        1
        for error in response.json().get("errors") or []
        if (error.get("extensions") or {}).get("code") != "NOT_FOUND"
    )


def measure(
    profile: str,
    target: str,
    pid: int,
    url: str,
    sandbox: httpx.Client,
    scenario: Scenario,
    citizens: list[dict[str, Any]],
) -> Row:
    if scenario.warm:
        asyncio.run(drive(url, Scenario("warm-up", 1, 1, 1, True), citizens))
    sandbox.delete("/_sandbox/stats")
    cpu_before = cpu_seconds(pid)
    latencies, errors, wall = asyncio.run(drive(url, scenario, citizens))
    cpu = cpu_seconds(pid) - cpu_before
    ordered = sorted(latencies)
    count = len(ordered)
    return Row(
        profile=profile,
        target=target,
        scenario=scenario.name,
        rps=count / wall,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[min(count - 1, round(0.99 * (count - 1)))] * 1000,
        calls_per_query=upstream_calls(sandbox) / count,
        cpu_ms_per_query=cpu * 1000 / count,
        errors_per_query=errors / count,
    )


def run_profile(profile: str, quick: bool) -> list[Row]:
    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    cli = [sys.executable, "-m", "citizen_graph"]
    rows: list[Row] = []
    with (
        process(
            [*cli, "sandbox", "--port", str(sandbox_port), "--latency", profile],
            f"{sandbox_url}/_sandbox/stats",
        ),
        httpx.Client(base_url=sandbox_url, timeout=30) as sandbox,
    ):
        citizens = sandbox.get("/_sandbox/citizens", params={"limit": 1000}).json()[
            "citizens"
        ]
        for target in ("gateway", "naive"):
            port = free_port()
            args = (
                [*cli, "serve", "--sandbox-url", sandbox_url, "--port", str(port)]
                if target == "gateway"
                else [
                    sys.executable,
                    "-m",
                    "bench.naive",
                    "--sandbox-url",
                    sandbox_url,
                    "--port",
                    str(port),
                ]
            )
            ready = f"http://127.0.0.1:{port}/" + (
                "readyz" if target == "gateway" else "graphql"
            )
            with process(args, ready) as proc:
                offset = 0
                for scenario in scenarios(quick, profile):
                    pool = citizens[offset:]
                    offset += 0 if scenario.warm else scenario.requests * scenario.batch
                    rows.append(
                        measure(
                            profile,
                            target,
                            proc.pid,
                            f"http://127.0.0.1:{port}",
                            sandbox,
                            scenario,
                            pool,
                        )
                    )
                    print(format_row(rows[-1]), flush=True)
            time.sleep(
                1.2
            )  # let the sandbox's rate-limit windows empty between targets
    return rows


def format_row(row: Row) -> str:
    return (
        f"| {row.profile} | {row.scenario} | {row.target} | {row.rps:.1f} | "
        f"{row.p50_ms:.0f} | {row.p99_ms:.0f} | {row.calls_per_query:.1f} | "
        f"{row.cpu_ms_per_query:.1f} | {row.errors_per_query:.2f} |"
    )


def table(rows: list[Row]) -> str:
    lines = [
        "| profile | scenario | target | req/s | p50 ms | p99 ms | upstream calls/query "
        "| CPU ms/query | failed fields/query |",
        "|---|---|---|---|---|---|---|---|---|",
        *(format_row(r) for r in rows),
        "",
        "| profile | scenario | naive/gateway p50 | gateway/naive req/s | naive/gateway calls "
        "| naive/gateway CPU |",
        "|---|---|---|---|---|---|",
    ]
    for gateway in (r for r in rows if r.target == "gateway"):
        naive = next(
            r
            for r in rows
            if r.target == "naive"
            and (r.profile, r.scenario) == (gateway.profile, gateway.scenario)
        )
        lines.append(
            f"| {gateway.profile} | {gateway.scenario} | {ratio(naive.p50_ms, gateway.p50_ms)} | "
            f"{ratio(gateway.rps, naive.rps)} | "
            f"{ratio(naive.calls_per_query, gateway.calls_per_query)} | "
            f"{ratio(naive.cpu_ms_per_query, gateway.cpu_ms_per_query)} |"
        )
    return "\n".join(lines)


def ratio(a: float, b: float) -> str:
    return "∞" if b == 0 else f"{a / b:.1f}×"


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--profiles", default="none,realistic")
    parser.add_argument(
        "--quick", action="store_true", help="fewer requests (smoke run)"
    )
    args = parser.parse_args()
    rows: list[Row] = []
    for profile in args.profiles.split(","):
        rows += run_profile(profile, args.quick)
    output = table(rows)
    print("\n" + output)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(output + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
