"""`--suites replicas`: two gateway replicas on one Redis against one replica and against two
without Redis, all holding ONE API Particulier token and ONE DGFiP client (one clients file,
as the replicas of a deployment share it); then what the Redis tier costs per query.

Each citizen of a fresh pool is asked once through each replica (two streams of 5 keep-alive
connections, c=10 in all, walking the same pool in the same order), so that the second ask can
be served from the first's fetch: by the replica's own cache when there is one replica, by
Redis or its in-flight claim when two share it, by nothing without Redis. The sandbox counts
the upstream calls and their statuses (its 20 calls/s per token answers 429 beyond). The
gateways run outside sandbox mode, `citizen-graph serve --config FILE`, with a clients file
and settings written for the run from credentials minted by the sandbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from bench import load, versus
from bench.harness import (
    RESULTS,
    free_port,
    own_cpu_seconds,
    process,
    ratio,
    settle,
    tree_cpu_seconds,
)
from citizen_graph.auth.demo_keys import ALL_DGFIP, CNAF, MESRI
from tests import redis_server as redis_process
from tests.e2e.queries import TAX_FIELDS

STREAMS = 2  # each asks every citizen of the pool once
CONNECTIONS = 5  # per stream: c=10 in all
# One citizen's quotient (API Particulier), identity and tax notice (DGFiP), address (BAN).
QUERY = (
    "query Replicas($fiscalNumber: String, $identity: PivotIdentityInput) {\n"
    "  citizen(fiscalNumber: $fiscalNumber, identity: $identity) {\n"
    "    familyQuotient { value provider year month }" + TAX_FIELDS + "  }\n}"
)
POOL = 700  # fresh citizens per scenario: more than 10 s can ask at the token's 20/s
WARM_UP = 10  # requests per replica before a run, on fresh citizens of their own
COST_POOL, QUICK_COST_POOL = 160, 40  # fetched by one replica, served by the other
WINDOW_S = 1.3  # the limiters' rolling windows (1.2 s at most) empty meanwhile
LOOKUPS = re.compile(
    r'^citizen_graph_cache_lookups_total\{[^}]*result="(\w+)"[^}]*\} ([0-9.e+]+)$',
    re.MULTILINE,
)
LOOKUP_RESULTS = ("hit", "coalesced", "shared", "miss")


@dataclass(frozen=True)
class Deployment:
    """What every replica of the run shares: the sandbox, the clients file, the secrets."""

    upstreams: versus.Sandbox
    folder: Path
    api_key: str
    id_secret: str  # the same on every replica: Citizen.id decodes on any of them
    audit_secret: str
    chain_secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "X-Purpose": "Benchmark"}


@dataclass(frozen=True)
class RedisServer:
    url: str
    pid: int
    key: str  # `[redis] key`, the same on every replica


@dataclass(frozen=True)
class Replica:
    name: str
    url: str
    pid: int


@dataclass
class Measured:
    scenario: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    calls_per_query: float
    # API Particulier calls per citizen, each asked once by each stream.
    particulier_per_citizen: float
    particulier_per_s: float
    refused: dict[str, int]  # 429s at the sandbox, per upstream
    errors_per_query: float
    cpu_ms_per_query: float  # every gateway process, user + system
    redis_cpu_ms_per_query: float | None
    lookups: Counter[str]  # the gateways' cache lookups by result, summed
    failures: Counter[str]  # failed fields by code
    statuses: Counter[str]  # the sandbox's other answers than 200, 404 and 429
    redis_commands: Counter[str] | None  # commands Redis ran during the run, by name


class Failures:
    """The load generator's judge: failed fields as versus counts them (errors other than
    NOT_FOUND, a refused request one), and their codes."""

    def __init__(self) -> None:
        self.codes: Counter[str] = Counter()

    def __call__(self, status: int, body: bytes) -> int:
        if status != 200:
            self.codes[f"HTTP {status}"] += 1
            return 1
        errors = json.loads(body).get("errors") or []
        codes = [(e.get("extensions") or {}).get("code") or "?" for e in errors]
        self.codes.update(c for c in codes if c != "NOT_FOUND")
        return sum(c != "NOT_FOUND" for c in codes)


def redis_commands(shared: RedisServer | None) -> Counter[str] | None:
    """Commands Redis has run so far, by name (`INFO commandstats`)."""
    if shared is None:
        return None
    client = redis.Redis.from_url(shared.url)
    try:
        stats: dict[str, Any] = client.info("commandstats")
    finally:
        client.close()
    return Counter(
        {
            name.removeprefix("cmdstat_"): int(value["calls"])
            for name, value in stats.items()
            if name not in ("cmdstat_info", "cmdstat_client|setinfo", "cmdstat_hello")
        }
    )


def redis_missing() -> str | None:
    """Why the suite cannot run, or None."""
    if shutil.which("redis-server") is None:
        return "redis-server is missing (apt-get install redis-server)"
    return None


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """`redis-server` on a free loopback port, no persistence (the tests' own server); its
    log in bench/results/."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    with redis_process.running(RESULTS) as server:
        yield RedisServer(server.url, server.pid, secrets.token_urlsafe(32))


@contextmanager
def deployment(upstreams: versus.Sandbox) -> Iterator[Deployment]:
    """One API Particulier token and one DGFiP OAuth client, minted by the sandbox with the
    scopes of the demo-social-services key, held by one client of one clients file."""
    sandbox = upstreams.client
    token = sandbox.post(
        "/_sandbox/api-particulier/tokens", json={"scopes": [*CNAF, *MESRI]}
    )
    oauth = sandbox.post("/_sandbox/dgfip/clients", json={})
    token.raise_for_status()
    oauth.raise_for_status()
    api_key = "bench-" + secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="citizen-graph-bench-replicas-") as name:
        folder = Path(name)
        (folder / "api-particulier-token").write_text(token.json()["token"])
        (folder / "dgfip-secret").write_text(oauth.json()["client_secret"])
        (folder / "clients.toml").write_text(
            f"""[[clients]]
id = "bench-ccas"
key_sha256 = "{hashlib.sha256(api_key.encode()).hexdigest()}"
recipient = "26350238800011"
roles = ["social_services"]
  [[clients.habilitations]]
  id = "bench-ccas-aide-sociale"
  procedure = "Aide sociale facultative (benchmark)"
  roles = ["social_services"]
  [clients.habilitations.api_particulier]
  token = {{ file = "{folder / "api-particulier-token"}" }}
  scopes = {json.dumps([*CNAF, *MESRI])}
  [clients.habilitations.dgfip]
  client_id = "{oauth.json()["client_id"]}"
  client_secret = {{ file = "{folder / "dgfip-secret"}" }}
  scopes = {json.dumps(list(ALL_DGFIP))}
""",
            encoding="utf-8",
        )
        yield Deployment(
            upstreams,
            folder,
            api_key,
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
        )


def settings_file(deployment: Deployment, replica: str) -> Path:
    """The replica's settings: the sandbox's upstreams, the shared clients file, no quota
    (the clients file declares none), an audit folder of its own. Redis comes from the
    environment, so that one file serves every scenario."""
    sandbox = deployment.upstreams.url
    audit = deployment.folder / replica
    audit.mkdir(exist_ok=True)
    path = deployment.folder / f"{replica}.toml"
    path.write_text(
        f"""[server]
id_secret = "{deployment.id_secret}"

[dgfip]
base_url = "{sandbox}/dgfip"

[api_particulier]
base_url = "{sandbox}/api-particulier"

[ban]
base_url = "{sandbox}/ban"

[auth]
clients_file = "{deployment.folder / "clients.toml"}"

[audit]
file = "{audit / "audit.jsonl"}"
secret = "{deployment.audit_secret}"
chain_secret = "{deployment.chain_secret}"
""",
        encoding="utf-8",
    )
    return path


@contextmanager
def gateways(
    deployment: Deployment, count: int, shared: RedisServer | None
) -> Iterator[list[Replica]]:
    env = {"CITIZEN_GRAPH_REDIS_URL": ""}
    if shared is not None:
        env = {
            "CITIZEN_GRAPH_REDIS_URL": shared.url,
            "CITIZEN_GRAPH_REDIS_KEY": shared.key,
            "CITIZEN_GRAPH_REDIS_REPLICAS": str(count),
        }
    with ExitStack() as stack:
        started: list[Replica] = []
        for letter in "ab"[:count]:
            name = f"replica-{letter}"
            port = free_port()
            args = [sys.executable, "-m", "citizen_graph", "serve"]
            args += ["--config", str(settings_file(deployment, name))]
            args += ["--port", str(port)]
            url = f"http://127.0.0.1:{port}"
            proc = stack.enter_context(
                process(args, f"{url}/readyz", name=f"replicas-{name}", env=env)
            )
            ready = httpx.get(f"{url}/readyz", timeout=5).json()
            expected = "off" if shared is None else "ok"
            if ready.get("redis") != expected:
                print(f"odd: {name} /readyz says redis {ready.get('redis')!r}")
            started.append(Replica(name, url, proc.pid))
        for replica in started:
            settle(replica.pid)
        yield started


def citizens(sandbox: httpx.Client, count: int) -> list[dict[str, Any]]:
    """Catalogued citizens CNAF knows (every one of them DGFiP knows too)."""
    found: list[dict[str, Any]] = []
    while len(found) < count:
        page = sandbox.get(
            "/_sandbox/citizens",
            params={"limit": 1000, "offset": len(found), "known_by": "cnaf"},
        ).json()
        found += page["citizens"]
        if len(found) >= page["total"]:
            break
    if len(found) < count:
        raise RuntimeError(f"the sandbox has {len(found)} CNAF citizens, not {count}")
    return found[:count]


def bodies(pool: Sequence[dict[str, Any]]) -> list[bytes]:
    """Encoded before the run: the load generator shares the cores with the gateways."""
    return [
        json.dumps(
            {
                "query": QUERY,
                "variables": {
                    "fiscalNumber": c["fiscalNumber"],
                    "identity": c["identity"],
                },
            }
        ).encode()
        for c in pool
    ]


def drive(
    deployment: Deployment,
    targets: Sequence[str],
    pool: list[bytes],
    duration_s: float,
    connections: int = CONNECTIONS,
    judge: load.Judge = versus.citizen_graph_failures,
) -> list[load.Outcome]:
    """One stream per target, all at once, each asking the pool's citizens once, in order."""
    shape = load.Load(connections, duration_s, len(pool))

    async def streams() -> list[load.Outcome]:
        return list(
            await asyncio.gather(
                *(
                    load.run(
                        f"{url}/graphql",
                        deployment.headers,
                        pool.__getitem__,
                        judge,
                        shape,
                    )
                    for url in targets
                )
            )
        )

    return asyncio.run(streams())


def lookups(replicas: Sequence[Replica]) -> Counter[str]:
    found: Counter[str] = Counter()
    for replica in replicas:
        text = httpx.get(f"{replica.url}/metrics", timeout=5).text
        for result, value in LOOKUPS.findall(text):
            found[result] += int(float(value))
    return found


def sandbox_stats(sandbox: httpx.Client) -> dict[str, Any]:
    upstreams: dict[str, Any] = sandbox.get("/_sandbox/stats").json()["upstreams"]
    return upstreams


def calls(upstream: dict[str, Any]) -> int:
    return sum(
        n for route, n in upstream["routes"].items() if not route.endswith("/token")
    )


def measure(
    scenario: str,
    deployment: Deployment,
    replicas: Sequence[Replica],
    shared: RedisServer | None,
    targets: Sequence[Replica],
    pool: list[bytes],
    duration_s: float,
    connections: int = CONNECTIONS,
) -> Measured:
    """`targets`: one stream each (a replica twice: two streams to it); CPU and lookups are
    counted over every replica of the scenario."""
    sandbox = deployment.upstreams.client
    sandbox.delete("/_sandbox/stats")  # also empties the sandbox's rate-limit windows
    lookups_before = lookups(replicas)
    cpu_before = sum(tree_cpu_seconds(r.pid) for r in replicas)
    redis_before = own_cpu_seconds(shared.pid) if shared else 0.0
    commands_before = redis_commands(shared)
    failures = Failures()
    outcomes = drive(
        deployment, [t.url for t in targets], pool, duration_s, connections, failures
    )
    cpu = sum(tree_cpu_seconds(r.pid) for r in replicas) - cpu_before
    redis_cpu = own_cpu_seconds(shared.pid) - redis_before if shared else None
    commands = redis_commands(shared)
    if commands is not None and commands_before is not None:
        commands.subtract(commands_before)
        commands = +commands
    stats = sandbox_stats(sandbox)
    looked_up = lookups(replicas)
    looked_up.subtract(lookups_before)
    latencies = sorted(s for o in outcomes for s in o.latencies_s)
    count = len(latencies)
    wall = max(o.wall_s for o in outcomes)
    asks = len(outcomes)  # per citizen: the streams walk one pool
    particulier = stats["api_particulier"]
    tokens = particulier["credentials"]
    if len(tokens) > 1:
        print(f"odd: {scenario}: {len(tokens)} API Particulier tokens used, not one")
    row = Measured(
        scenario=scenario,
        requests=count,
        rps=count / wall,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[min(count - 1, round(0.99 * (count - 1)))] * 1000,
        calls_per_query=sum(calls(u) for u in stats.values()) / count,
        particulier_per_citizen=calls(particulier) * asks / count,
        particulier_per_s=calls(particulier) / wall,
        refused={
            name: u["statuses"].get("429", 0)
            for name, u in stats.items()
            if u["statuses"].get("429")
        },
        errors_per_query=sum(o.errors for o in outcomes) / count,
        cpu_ms_per_query=cpu * 1000 / count,
        redis_cpu_ms_per_query=None if redis_cpu is None else redis_cpu * 1000 / count,
        lookups=+looked_up,
        failures=failures.codes,
        redis_commands=commands,
        statuses=Counter(
            {
                f"{name} {status}": n
                for name, u in stats.items()
                for status, n in u["statuses"].items()
                if status not in ("200", "404", "429")
            }
        ),
    )
    return row


def warm_up(
    deployment: Deployment, replicas: Sequence[Replica], spare: list[bytes]
) -> None:
    """Each replica's first requests (its DGFiP token, connection pools, parser caches) on
    fresh citizens of its own, then the limiters' windows empty."""
    for i, replica in enumerate(replicas):
        drive(deployment, [replica.url], spare[i * WARM_UP : (i + 1) * WARM_UP], 30, 2)
    time.sleep(WINDOW_S)


@dataclass
class Results:
    scenarios: list[Measured]  # per setting, its repetitions
    # Per repetition: A's fetch, B's Redis hits, B's own hits.
    costs: list[list[Measured]]


SETTINGS = (  # name, replicas, on one Redis
    ("1 replica", 1, False),
    ("2 replicas, no Redis", 2, False),
    ("2 replicas, one Redis", 2, True),
)


def run_replicas(run: versus.Run, quick: bool) -> Results | str:
    """The three settings, `run.reps` times interleaved (fresh gateways and Redis each
    time), and the Redis tier's cost after each run on Redis; the reason when skipped."""
    reason = redis_missing()
    if reason is not None:
        return reason  # the table is then this one line
    per_run = (POOL // 2 if quick else POOL) + 2 * WARM_UP
    cost_size = QUICK_COST_POOL if quick else COST_POOL
    results = Results([], [])
    with (
        versus.sandbox(lift_ban_limit=True) as upstreams,
        deployment(upstreams) as shared_by_all,
    ):
        needed = run.reps * (len(SETTINGS) * per_run + cost_size)
        fresh = iter(bodies(citizens(upstreams.client, needed)))

        def take(n: int) -> list[bytes]:
            return [next(fresh) for _ in range(n)]

        for _ in range(run.reps):
            for scenario, count, with_redis in SETTINGS:
                spare, pool = take(2 * WARM_UP), take(per_run - 2 * WARM_UP)
                with ExitStack() as stack:
                    shared = stack.enter_context(redis_server()) if with_redis else None
                    replicas = stack.enter_context(
                        gateways(shared_by_all, count, shared)
                    )
                    warm_up(shared_by_all, replicas, spare)
                    targets = [replicas[s % count] for s in range(STREAMS)]
                    row = measure(
                        scenario,
                        shared_by_all,
                        replicas,
                        shared,
                        targets,
                        pool,
                        run.duration_s,
                    )
                    results.scenarios.append(row)
                    print(format_row(row), flush=True)
                    if shared is not None:
                        results.costs.append(
                            cost_of_redis(
                                shared_by_all, replicas, shared, take(cost_size)
                            )
                        )
    order = [name for name, _, _ in SETTINGS]
    results.scenarios.sort(key=lambda r: order.index(r.scenario))
    return results


def cost_of_redis(
    deployment: Deployment,
    replicas: Sequence[Replica],
    shared: RedisServer,
    pool: list[bytes],
) -> list[Measured]:
    """Replica A fetches the pool; B serves it (its own miss, a Redis hit), then serves it
    again (its own hit); c=10 on one replica, each citizen once per run."""
    first, second = replicas
    time.sleep(WINDOW_S)
    rows = []
    for scenario, replica in (
        ("A: fetched from the upstreams", first),
        ("B: own miss, Redis hit", second),
        ("B again: own hit", second),
    ):
        rows.append(
            measure(scenario, deployment, [replica], shared, [replica], pool, 120, 10)
        )
        print(format_cost_row(rows[-1]), flush=True)
    if rows[0].requests < len(pool) or rows[0].errors_per_query:
        print(f"odd: replica A answered {rows[0].requests} of {len(pool)} citizens")
    return rows


def _refused(row: Measured) -> str:
    if not row.refused:
        return "0"
    if set(row.refused) == {"api_particulier"}:
        return str(row.refused["api_particulier"])
    return ", ".join(f"{name} {n}" for name, n in sorted(row.refused.items()))


def _lookups(row: Measured) -> str:
    return " / ".join(str(row.lookups.get(result, 0)) for result in LOOKUP_RESULTS)


def _redis_cpu(row: Measured) -> str:
    if row.redis_cpu_ms_per_query is None or row.redis_commands is None:
        return "— | —"
    commands = sum(row.redis_commands.values()) / row.requests
    return f"{row.redis_cpu_ms_per_query:.2f} | {commands:.1f}"


def format_row(row: Measured) -> str:
    return (
        f"| {row.scenario} | {row.requests} | {row.rps:.1f} | {row.p50_ms:.0f} | "
        f"{row.p99_ms:.0f} | {row.calls_per_query:.2f} | "
        f"{row.particulier_per_citizen:.2f} | {row.particulier_per_s:.1f} | "
        f"{_refused(row)} | {row.errors_per_query:.2f} | {row.cpu_ms_per_query:.1f} | "
        f"{_redis_cpu(row)} | {_lookups(row)} |"
    )


def format_cost_row(row: Measured) -> str:
    return (
        f"| {row.scenario} | {row.requests} | {row.rps:.1f} | {row.p50_ms:.1f} | "
        f"{row.p99_ms:.1f} | {row.calls_per_query:.2f} | {_refused(row)} | "
        f"{row.errors_per_query:.2f} | {row.cpu_ms_per_query:.2f} | "
        f"{_redis_cpu(row)} | {_lookups(row)} |"
    )


LOOKUPS_HEADER = "cache lookups hit / coalesced / shared / miss"
LOOKUPS_NOTE = (
    "Cache lookups are the gateways' `citizen_graph_cache_lookups_total` over the run: "
    "`miss` counts every miss of the replica's own cache, those Redis then served "
    "(`shared`) included."
)


def notes(rows: Sequence[Measured]) -> list[str]:
    """What failed, and the sandbox's answers other than 200, 404 and 429."""
    lines = []
    for row in rows:
        seen = [f"{code} × {n}" for code, n in sorted(row.failures.items())]
        seen += [f"sandbox {what} × {n}" for what, n in sorted(row.statuses.items())]
        if seen:
            lines.append(f"- {row.scenario}: " + ", ".join(seen))
    return lines


def command_notes(rows: Sequence[Measured]) -> list[str]:
    """Per row with Redis, its commands per query by name, the most frequent first."""
    return [
        f"- {row.scenario}: "
        + ", ".join(
            f"{name} {n / row.requests:.2f}"
            for name, n in row.redis_commands.most_common()
        )
        for row in rows
        if row.redis_commands
    ]


def replicas_table(results: Results | str) -> str:
    if isinstance(results, str):
        return f"replicas suite skipped: {results}"
    lines = [
        "| setting | requests | req/s | p50 ms | p99 ms | upstream calls/query "
        "| API Particulier calls/citizen (asked twice) | API Particulier calls/s "
        "| 429s at the sandbox | failed fields/query | CPU ms/query (gateways) "
        f"| Redis CPU ms/query | Redis commands/query | {LOOKUPS_HEADER} |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *(format_row(r) for r in results.scenarios),
    ]
    costs = [row for rows in results.costs for row in rows]
    if costs:
        lines += [
            "",
            "| served (c=10, one replica) | requests | req/s | p50 ms | p99 ms "
            "| upstream calls/query | 429s at the sandbox | failed fields/query "
            "| CPU ms/query (that replica) | Redis CPU ms/query | Redis commands/query "
            f"| {LOOKUPS_HEADER} |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *(format_cost_row(r) for r in costs),
            "",
        ]
    for _, redis_hit, own_hit in results.costs:
        cpu = (redis_hit.cpu_ms_per_query, own_hit.cpu_ms_per_query)
        p50 = (redis_hit.p50_ms, own_hit.p50_ms)
        lines.append(
            f"Redis hit against own hit: CPU {ratio(*cpu, 2)} "
            f"({cpu[0] - cpu[1]:+.2f} ms/query), p50 {ratio(*p50, 2)} "
            f"({p50[0] - p50[1]:+.1f} ms)."
        )
    lines += ["", LOOKUPS_NOTE]
    failed = notes([*results.scenarios, *costs])
    if failed:
        lines += ["", "Failed fields by code, other upstream statuses:", *failed]
    used = command_notes([*results.scenarios, *costs])
    if used:
        lines += ["", "Redis commands per query:", *used]
    return "\n".join(lines)
