"""`make bench`: citizen-graph against the naive baseline, against Hive Gateway + GraphQL Mesh,
with `--workers 2` against one worker, and two replicas on one Redis; each server in its own
process.

Suites (`--suites`, default all four; each prints its table, all go to bench/results/latest.md):
- `baseline`: per latency profile of the sandbox (`none`, `realistic`), the gateway and the
  naive baseline of bench/naive.py on three scenarios (one citizen, 50 citizens, the same query
  warm), all fields;
- `peer` (bench/versus.py): identity, tax notice and address of fresh citizens, c=10, 1 and 20
  citizens per query, citizen-graph against Hive Gateway + GraphQL Mesh (bench/peer.py) on the
  same sandbox, BAN's per-IP limit lifted on both sides, then real (50 requests/s); the peer is
  installed with npm into bench/.peer/ on first use, and skipped, with one line saying why,
  without node and npm or when the install fails;
- `workers`: citizen-graph `serve --workers 2` against one worker, one citizen cold and warm, c=10.
- `replicas` (bench/replicas.py): one replica, two without Redis, two on one Redis, sharing one
  API Particulier token and one DGFiP client (`serve --config`), each fresh citizen asked once
  through each replica, c=10: upstream calls and the sandbox's 429s; then a Redis hit's CPU and
  latency against an in-process hit; skipped, with one line, without `redis-server`.

Columns: requests/s, p50 and p99 latency, upstream calls per query (counted by the sandbox),
CPU ms per query of the gateway's process tree (from /proc), failed fields per query (errors
other than NOT_FOUND; a refused request, e.g. 429 RATE_LIMITED, counts one), then ratios.

Reproduce: `make bench` (about 12 minutes on 2 cores), or
`.venv/bin/python -m bench --peer-only` (the side-by-side alone), `--suites peer,workers`,
`--quick` (shorter runs, one repetition: a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench import replicas, versus
from bench.harness import (
    RESULTS,
    Row,
    cpu_seconds,
    format_row,
    free_port,
    process,
    ratio,
    upstream_calls,
)
from tests.e2e.queries import MANY_CITIZENS, ONE_CITIZEN

HEADERS = {"Authorization": "Bearer demo-social-services", "X-Purpose": "Benchmark"}


@dataclass(frozen=True)
class Scenario:
    name: str
    requests: int
    concurrency: int
    batch: int  # citizens per query
    warm: bool  # the same query every time (after one warm-up request)


def scenarios(quick: bool, profile: str) -> list[Scenario]:
    slow = profile == "realistic"
    n = 8 if quick else (24 if slow else 60)
    return [
        Scenario("one citizen, all fields", n, 4, 1, False),
        Scenario("50 citizens, all fields", 2 if quick else 3, 1, 50, False),
        Scenario("the same query warm", n * 4, 4, 1, True),
    ]


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


SUITES = ("baseline", "peer", "workers", "replicas")


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument(
        "--suites", default=",".join(SUITES), help="of: " + ", ".join(SUITES)
    )
    parser.add_argument(
        "--peer-only",
        action="store_true",
        help="the side-by-side alone (--suites peer)",
    )
    parser.add_argument("--profiles", default="none,realistic", help="baseline suite")
    parser.add_argument(
        "--quick", action="store_true", help="fewer requests (smoke run)"
    )
    args = parser.parse_args()
    suites = ["peer"] if args.peer_only else args.suites.split(",")
    unknown = set(suites) - set(SUITES)
    if unknown:
        parser.error(f"unknown suite {sorted(unknown)[0]!r}; choose among {SUITES}")
    run = versus.Run(duration_s=4 if args.quick else 10, reps=1 if args.quick else 2)
    sections: list[str] = []
    if "baseline" in suites:
        rows: list[Row] = []
        for profile in args.profiles.split(","):
            rows += run_profile(profile, args.quick)
        sections.append(table(rows))
    if "peer" in suites:
        sections.append(versus.versus_table(versus.run_versus(run)))
    if "workers" in suites:
        sections.append(versus.workers_table(versus.run_workers(run)))
    if "replicas" in suites:
        sections.append(replicas.replicas_table(replicas.run_replicas(run, args.quick)))
    output = "\n\n".join(sections)
    print("\n" + output)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(output + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
