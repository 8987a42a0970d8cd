"""What every benchmark suite shares: server processes and their logs, free ports, the CPU of a
process tree from /proc, the sandbox's upstream-call counts, and the rows of the printed tables."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


@dataclass
class Row:
    profile: str  # the sandbox's setting: latency profile, or BAN limit
    target: str
    scenario: str
    rps: float
    p50_ms: float
    p99_ms: float
    calls_per_query: float
    cpu_ms_per_query: float
    errors_per_query: float
    complete_rps: float | None = None  # queries/s answered without any error
    # The sandbox's and the load generator's CPU: they share the machine's cores.
    others_cpu_ms_per_query: float | None = None
    cpu_split: str = ""  # between the workers of `serve --workers N`


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def process(
    args: list[str],
    ready_url: str,
    *,
    name: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process (its logs go to bench/results/, never to an unread pipe)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = name or args[2 if args[1] == "-m" else 1].replace(".", "-")
    log = (RESULTS / f"{name}.log").open("ab")
    audit = tempfile.TemporaryDirectory(prefix="citizen-graph-bench-audit-")
    environment = os.environ | {
        # The demo keys' quotas (1,000 distinct citizens per 60 s) are lifted: the
        # benchmark asks for fresh citizens on purpose (contract §7).
        "CITIZEN_GRAPH_SANDBOX_DEMO_QUOTA": "0",
        # A chain of its own, thrown away: never the project's audit.jsonl, which a
        # gateway started meanwhile in the same folder would also append to.
        "CITIZEN_GRAPH_AUDIT_FILE": str(Path(audit.name) / "audit.jsonl"),
        **(env or {}),
    }
    proc = subprocess.Popen(args, cwd=cwd, stdout=log, stderr=log, env=environment)
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
        audit.cleanup()


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
            except (OSError, IndexError):
                continue  # gone meanwhile
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = {p for p, pp in parents.items() if pp == parent} - found
        found |= children
        frontier += children
    return found


def children(pid: int) -> list[int]:
    """Direct children, e.g. the workers of `serve --workers N`."""
    return [p for p in descendants(pid) if _parent(p) == pid]


def _parent(pid: int) -> int:
    try:
        return int(_stat(pid)[1])
    except OSError:
        return 0


def own_cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid`, and of its children it has reaped; 0 once it is gone."""
    try:
        return sum(int(f) for f in _stat(pid)[11:15]) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and of all its descendants, reaped children included."""
    return sum(own_cpu_seconds(p) for p in {pid} | descendants(pid))


def settle(pid: int, timeout_s: float = 30.0) -> None:
    """Wait until the process tree idles (under 5 % of a core for 0.5 s): every worker of a
    `--workers N` server has booted, though readiness answers as soon as the first has."""
    deadline = time.monotonic() + timeout_s
    used = tree_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        used, before = tree_cpu_seconds(pid), used
        if used - before < 0.025:
            return


def upstream_calls(sandbox: httpx.Client) -> int:
    stats = sandbox.get("/_sandbox/stats").json()["upstreams"]
    return sum(
        n
        for upstream in stats.values()
        for route, n in upstream["routes"].items()
        if not route.endswith("/token")
    )


def format_row(row: Row) -> str:
    return (
        f"| {row.profile} | {row.scenario} | {row.target} | {row.rps:.1f} | "
        f"{row.p50_ms:.0f} | {row.p99_ms:.0f} | {row.calls_per_query:.1f} | "
        f"{row.cpu_ms_per_query:.1f} | {row.errors_per_query:.2f} |"
    )


def ratio(a: float, b: float, digits: int = 1) -> str:
    return "∞" if b == 0 else f"{a / b:.{digits}f}×"
