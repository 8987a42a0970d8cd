"""Side by side on one sandbox: citizen-graph against Hive Gateway + GraphQL Mesh (bench/peer.py),
identity, tax notice and address of fresh citizens at c=10, 1 and 20 citizens per query, with
BAN's per-IP limit lifted on both sides and with the real one; then citizen-graph with
`--workers 2` against one worker (one citizen, cold and warm).

citizen-graph is restarted before each of its runs (an empty cache); the gateways' runs are
interleaved, so that both meet the same state of the machine.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import httpx

from bench import load, peer
from bench.harness import (
    Row,
    children,
    format_row,
    free_port,
    own_cpu_seconds,
    process,
    ratio,
    settle,
    tree_cpu_seconds,
    upstream_calls,
)
from tests.e2e.queries import TAX_FIELDS

CONCURRENCY = 10
HEADERS = {"Authorization": "Bearer demo-social-services", "X-Purpose": "Benchmark"}
LIFTED, REAL = "lifted", "50/s per IP"
WARM_UP_CITIZENS = 400  # kept out of the measured pool
# Before each run: Node's JIT, the gateways' parser and validation caches.
WARM_UP_S = 2.0
FIELDS = TAX_FIELDS  # the e2e tests' own: identity, tax notice, address
ONE = "query One($fiscalNumber: String) { citizen(fiscalNumber: $fiscalNumber) {%s} }"
MANY = "query Many($keys: [CitizenKeyInput!]!) { citizens(keys: $keys) {%s} }"


@dataclass(frozen=True)
class Case:
    name: str
    batch: int  # citizens per query
    warm: bool  # the same citizen every time (a cache hit after the warm-up)


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    pid: int  # CPU is the sum over its process tree
    headers: dict[str, str]
    body: Callable[[list[str]], bytes]  # fiscal numbers → request body
    judge: load.Judge
    workers: int = 1


@dataclass(frozen=True)
class Run:
    duration_s: float
    reps: int


CASES = (Case("1 citizen, cold", 1, False), Case("20 citizens, cold", 20, False))
WORKER_CASES = (Case("1 citizen, cold", 1, False), Case("1 citizen, warm", 1, True))


def citizen_graph_body(fiscal_numbers: list[str]) -> bytes:
    if len(fiscal_numbers) == 1:
        document = {
            "query": ONE % FIELDS,
            "variables": {"fiscalNumber": fiscal_numbers[0]},
        }
    else:
        keys = [{"fiscalNumber": f} for f in fiscal_numbers]
        document = {"query": MANY % FIELDS, "variables": {"keys": keys}}
    return json.dumps(document).encode()


def citizen_graph_failures(status: int, body: bytes) -> int:
    """Errors other than NOT_FOUND; a refused request (429 RATE_LIMITED included) is one."""
    if status != 200:
        return 1
    errors = json.loads(body).get("errors") or []
    return sum(
        1 for e in errors if (e.get("extensions") or {}).get("code") != "NOT_FOUND"
    )


def peer_body(income_year: int) -> Callable[[list[str]], bytes]:
    queries: dict[int, str] = {}

    def body(fiscal_numbers: list[str]) -> bytes:
        n = len(fiscal_numbers)
        document = queries.get(n) or queries.setdefault(n, peer.query(n, income_year))
        variables = {f"s{i}": f for i, f in enumerate(fiscal_numbers)}
        return json.dumps({"query": document, "variables": variables}).encode()

    return body


@dataclass(frozen=True)
class Sandbox:
    client: httpx.Client
    pid: int

    @property
    def url(self) -> str:
        return str(self.client.base_url).rstrip("/")


@contextmanager
def sandbox(lift_ban_limit: bool) -> Iterator[Sandbox]:
    port = free_port()
    args = [sys.executable, "-m", "bench.sandbox", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    lift = ["--lift-ban-limit"] if lift_ban_limit else []
    with (
        process([*args, *lift], f"{url}/_sandbox/stats") as proc,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield Sandbox(client, proc.pid)


@contextmanager
def citizen_graph(
    sandbox_url: str, workers: int, ban_limit_per_s: int | None
) -> Iterator[Target]:
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "citizen_graph",
        "serve",
        "--sandbox-url",
        sandbox_url,
    ]
    args += ["--port", str(port), "--workers", str(workers)]
    env = (
        {}
        if ban_limit_per_s is None
        else {"CITIZEN_GRAPH_BAN_RATE_LIMIT_PER_S": str(ban_limit_per_s)}
    )
    url = f"http://127.0.0.1:{port}"
    with process(args, f"{url}/readyz", env=env) as proc:
        settle(proc.pid)
        name = "citizen-graph" + (f" ×{workers}" if workers > 1 else "")
        yield Target(
            name,
            f"{url}/graphql",
            proc.pid,
            HEADERS,
            citizen_graph_body,
            citizen_graph_failures,
            workers,
        )


def dgfip_citizens(client: httpx.Client) -> list[str]:
    """Fiscal numbers of every catalogued citizen DGFiP knows (each has a tax address)."""
    found: list[str] = []
    offset, total = 0, 1
    while offset < total:
        page = client.get(
            "/_sandbox/citizens", params={"limit": 1000, "offset": offset}
        )
        total = page.json()["total"]
        found += [
            c["fiscalNumber"]
            for c in page.json()["citizens"]
            if "dgfip" in c["knownBy"]
        ]
        offset += 1000
    return found


def measure(
    setting: str,
    case: Case,
    target: Target,
    upstreams: Sandbox,
    pool: list[str],
    run: Run,
) -> Row:
    measured, spare = pool[:-WARM_UP_CITIZENS], pool[-WARM_UP_CITIZENS:]

    def bodies(block: list[str]) -> load.Body:
        blocks = len(block) // case.batch

        def body(i: int) -> bytes:
            start = 0 if case.warm else (i % blocks) * case.batch
            return target.body(block[start : start + case.batch])

        return body

    def drive(body: load.Body, duration_s: float, requests: int) -> load.Outcome:
        shape = load.Load(CONCURRENCY, duration_s, requests)
        return asyncio.run(
            load.run(target.url, target.headers, body, target.judge, shape)
        )

    drive(bodies(measured if case.warm else spare), WARM_UP_S, 10**9)
    upstreams.client.delete("/_sandbox/stats")  # also empties BAN's rate-limit windows
    workers = children(target.pid) if target.workers > 1 else []
    split_before = [own_cpu_seconds(w) for w in workers]
    cpu_before = tree_cpu_seconds(target.pid)
    others_before = tree_cpu_seconds(upstreams.pid) + time.process_time()
    fresh = len(measured) // case.batch  # never a citizen twice in a measured run
    outcome = drive(bodies(measured), run.duration_s, 10**9 if case.warm else fresh)
    cpu = tree_cpu_seconds(target.pid) - cpu_before
    split = [own_cpu_seconds(w) - b for w, b in zip(workers, split_before, strict=True)]
    others = tree_cpu_seconds(upstreams.pid) + time.process_time() - others_before
    latencies = sorted(outcome.latencies_s)
    count = len(latencies)
    row = Row(
        profile=setting,
        target=target.name,
        scenario=case.name,
        rps=count / outcome.wall_s,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[min(count - 1, round(0.99 * (count - 1)))] * 1000,
        calls_per_query=upstream_calls(upstreams.client) / count,
        cpu_ms_per_query=cpu * 1000 / count,
        errors_per_query=outcome.errors / count,
        complete_rps=outcome.complete / outcome.wall_s,
        others_cpu_ms_per_query=others * 1000 / count,
        cpu_split=_shares(split),
    )
    print(
        format_versus_row(row) + (f" {row.cpu_split} |" if row.cpu_split else ""),
        flush=True,
    )
    return row


def _shares(cpu: list[float]) -> str:
    """'71 % / 29 %': how the run's CPU fell on the workers (idle helpers left out)."""
    total = sum(cpu)
    shares = sorted(
        (c / total for c in cpu if total and c / total >= 0.01), reverse=True
    )
    return " / ".join(f"{share:.0%}".replace("%", " %") for share in shares)


def format_versus_row(row: Row) -> str:
    return (
        f"{format_row(row)} {row.complete_rps or 0.0:.1f} | "
        f"{row.others_cpu_ms_per_query or 0.0:.1f} |"
    )


def run_versus(run: Run) -> list[Row]:
    """Both gateways, both BAN settings, 1 and 20 citizens; the peer skipped if it cannot run."""
    reason = None
    try:
        peer.install()
    except peer.PeerUnavailable as error:
        reason = _skip(str(error))
    rows: list[Row] = []
    for setting in (LIFTED, REAL):
        with sandbox(setting == LIFTED) as upstreams, ExitStack() as stack:
            pool = dgfip_citizens(upstreams.client)
            hive = None
            if reason is None:
                try:
                    hive = stack.enter_context(peer.serve(upstreams.client))
                except (peer.PeerUnavailable, RuntimeError, httpx.HTTPError) as error:
                    reason = _skip(str(error).splitlines()[0])
            for case in CASES:
                for _ in range(run.reps):
                    with citizen_graph(
                        upstreams.url, 1, 0 if setting == LIFTED else None
                    ) as cg:
                        rows.append(measure(setting, case, cg, upstreams, pool, run))
                    if hive is not None:
                        target = Target(
                            "Hive + Mesh",
                            hive.url,
                            hive.pid,
                            {},
                            peer_body(hive.income_year),
                            peer.failures,
                        )
                        rows.append(
                            measure(setting, case, target, upstreams, pool, run)
                        )
    return rows


def _skip(reason: str) -> str:
    print(f"peer skipped (Hive Gateway + GraphQL Mesh): {reason}", flush=True)
    return reason


def run_workers(run: Run) -> list[Row]:
    """citizen-graph, one worker against `--workers 2`, BAN's limit lifted."""
    rows: list[Row] = []
    with sandbox(True) as upstreams:
        pool = dgfip_citizens(upstreams.client)
        for case in WORKER_CASES:
            for _ in range(run.reps):
                for workers in (1, 2):
                    # Not 0 ("none"): `serve --workers N` divides the limit between
                    # workers and turns 0 into 1 call/s each.
                    with citizen_graph(upstreams.url, workers, 100_000) as cg:
                        rows.append(measure(LIFTED, case, cg, upstreams, pool, run))
    return rows


HEADER = (
    "| BAN limit | scenario | target | req/s | p50 ms | p99 ms | upstream calls/query "
    "| CPU ms/query | errors/query | complete queries/s "
    "| sandbox + load generator CPU ms/query |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def versus_table(rows: list[Row]) -> str:
    lines = [
        HEADER,
        *(format_versus_row(r) for r in rows),
        "",
        "| BAN limit | scenario | citizen-graph/peer req/s | p50 | p99 | upstream calls "
        "| CPU/query | complete queries/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ours, theirs in _pairs(rows, "citizen-graph", "Hive + Mesh"):
        lines.append(
            f"| {ours.profile} | {ours.scenario} | {ratio(ours.rps, theirs.rps, 2)} | "
            f"{ratio(ours.p50_ms, theirs.p50_ms, 2)} | {ratio(ours.p99_ms, theirs.p99_ms, 2)} | "
            f"{ratio(ours.calls_per_query, theirs.calls_per_query, 2)} | "
            f"{ratio(ours.cpu_ms_per_query, theirs.cpu_ms_per_query, 2)} | "
            f"{ratio(ours.complete_rps or 0.0, theirs.complete_rps or 0.0, 2)} |"
        )
    return "\n".join(lines)


def workers_table(rows: list[Row]) -> str:
    lines = [
        HEADER.replace(" |\n", " | CPU split between workers |\n", 1) + "---|",
        *(f"{format_versus_row(r)} {r.cpu_split or '—'} |" for r in rows),
        "",
        "| scenario | 2 workers/1 req/s | 2 workers/1 p50 | 2 workers/1 CPU/query |",
        "|---|---|---|---|",
    ]
    for one, two in _pairs(rows, "citizen-graph", "citizen-graph ×2"):
        lines.append(
            f"| {one.scenario} | {ratio(two.rps, one.rps, 2)} | "
            f"{ratio(two.p50_ms, one.p50_ms, 2)} | "
            f"{ratio(two.cpu_ms_per_query, one.cpu_ms_per_query, 2)} |"
        )
    return "\n".join(lines)


def _pairs(rows: list[Row], first: str, second: str) -> Iterator[tuple[Row, Row]]:
    """The n-th run of `first` with the n-th run of `second`, per setting and scenario."""
    for setting, scenario in dict.fromkeys((r.profile, r.scenario) for r in rows):
        same = [r for r in rows if (r.profile, r.scenario) == (setting, scenario)]
        yield from zip(
            (r for r in same if r.target == first),
            (r for r in same if r.target == second),
            strict=False,
        )
