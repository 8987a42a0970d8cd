"""The gateway's Prometheus metrics, with prometheus_client, counted where things happen.

Requests are counted by the request scope when they end; upstream exchanges by the
connectors' client as each ends (a call finishing after its request is still counted);
cache lookups by the cache; rate-limit waits by the client; refusals by admission. Labels
are upstream sources, operations, HTTP statuses, outcomes and reasons: never a personal
value, a client's secret or a habilitation's credential.

With `serve --workers N` the CLI names a folder in `PROMETHEUS_MULTIPROC_DIR` before the
workers start (prometheus_client's multiprocess mode): each worker writes its values there
and `/metrics`, answered by whichever worker, adds up every worker's. Gauges are per live
process (`livemax`, `livemin`), so a worker's last values go with it.
"""

from __future__ import annotations

import platform

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from citizen_graph import __version__

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 8.0, 10.0)
UPSTREAM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


class Metrics:
    """One gateway's metrics, in a registry of its own (several gateways may share a
    process in tests); `multiprocess`: `/metrics` adds up every worker's."""

    def __init__(self, multiprocess: bool = False) -> None:
        self._multiprocess = multiprocess
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            "citizen_graph_requests",
            "GraphQL requests, by HTTP status.",
            ["status"],
            registry=registry,
        )
        self.request_duration = Histogram(
            "citizen_graph_request_duration_seconds",
            "Time to answer a GraphQL request, by outcome (ok, refused, failed).",
            ["outcome"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.upstream_calls = Counter(
            "citizen_graph_upstream_calls",
            "Exchanges with the upstreams (status none: no answer, e.g. a timeout).",
            ["source", "operation", "status"],
            registry=registry,
        )
        self.upstream_duration = Histogram(
            "citizen_graph_upstream_request_duration_seconds",
            "Time of one exchange with an upstream.",
            ["source", "operation", "status"],
            buckets=UPSTREAM_BUCKETS,
            registry=registry,
        )
        self.cache_lookups = Counter(
            "citizen_graph_cache_lookups",
            "Upstream answers looked up: hit (this process's cache), coalesced (a call "
            "in flight here), shared (Redis: stored, or another process's call), miss.",
            ["operation", "result"],
            registry=registry,
        )
        self.rate_limit_wait = Histogram(
            "citizen_graph_rate_limit_wait_seconds",
            "Time calls waited for their credential's rate slot.",
            ["source"],
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.refusals = Counter(
            "citizen_graph_refusals",
            "Requests refused before any upstream call (quota, admission).",
            ["reason"],
            registry=registry,
        )
        self.circuit_open = Gauge(
            "citizen_graph_circuit_open",
            "1 when the upstream's shared circuit is open or half open (probing).",
            ["source"],
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.client_circuits_open = Gauge(
            "citizen_graph_client_circuits_open",
            "Clients whose own circuit to the upstream is open or half open.",
            ["source"],
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.redis_up: Gauge | None = None  # made on the first state with a Redis
        build = Gauge(
            "citizen_graph_build_info",
            "The running version.",
            ["version", "python"],
            multiprocess_mode="livemax",
            registry=registry,
        )
        build.labels(__version__, platform.python_version()).set(1)

    def request(self, status: int, seconds: float) -> None:
        self.requests.labels(str(status)).inc()
        outcome = "ok" if status < 400 else "refused" if status < 500 else "failed"
        self.request_duration.labels(outcome).observe(seconds)

    def upstream_call(
        self, source: str, operation: str, status: int | None, seconds: float
    ) -> None:
        label = str(status) if status is not None else "none"
        self.upstream_calls.labels(source, operation, label).inc()
        self.upstream_duration.labels(source, operation, label).observe(seconds)

    def rate_wait(self, source: str, seconds: float) -> None:
        self.rate_limit_wait.labels(source).observe(seconds)

    def cache_lookup(self, operation: str, result: str) -> None:
        self.cache_lookups.labels(operation, result).inc()

    def refused(self, reason: str) -> None:
        self.refusals.labels(reason).inc()

    def state(
        self,
        circuits: dict[str, str],
        client_circuits: dict[str, int],
        redis: str | None,
    ) -> None:
        """This process's states now: circuits, and Redis (`ok`, `degraded`, None)."""
        for source, state in circuits.items():
            self.circuit_open.labels(source).set(int(state != "closed"))
            self.client_circuits_open.labels(source).set(client_circuits.get(source, 0))
        if redis is None:
            return
        if self.redis_up is None:
            self.redis_up = Gauge(
                "citizen_graph_redis_up",
                "1 when the shared Redis is used, 0 while it is lost (per-process "
                "limits); absent without [redis] url.",
                multiprocess_mode="livemin",
                registry=self.registry,
            )
        self.redis_up.set(int(redis == "ok"))

    def render(self) -> bytes:
        if not self._multiprocess:
            return generate_latest(self.registry)
        every_worker = CollectorRegistry()
        MultiProcessCollector(every_worker)  # type: ignore[no-untyped-call]
        return generate_latest(every_worker)
