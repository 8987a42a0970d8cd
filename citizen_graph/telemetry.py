"""Logs and metrics: JSON log lines without identifiers, and Prometheus counters.

Configured by the CLI only, never at import. The httpx logger is raised to WARNING: its INFO
line prints the full upstream URL, fiscal number included.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterable

from citizen_graph.request_scope import UpstreamCall

_STANDARD = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Metrics:
    """Counters exposed at /metrics in the Prometheus text format."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.upstream_calls: Counter[tuple[str, str, str]] = Counter()
        self.request_seconds_sum = 0.0

    def observe_request(
        self, outcome: int, seconds: float, upstream_calls: Iterable[UpstreamCall]
    ) -> None:
        self.requests[("graphql", outcome)] += 1
        self.request_seconds_sum += seconds
        for call in upstream_calls:
            status = "cached" if call.cached else str(call.status or "none")
            self.upstream_calls[(call.source, call.operation, status)] += 1

    def render(
        self, circuits: dict[str, str], client_circuits: dict[str, int] | None = None
    ) -> str:
        lines = [
            "# HELP citizen_graph_requests_total GraphQL requests by HTTP status.",
            "# TYPE citizen_graph_requests_total counter",
        ]
        lines += [
            f'citizen_graph_requests_total{{endpoint="{e}",status="{s}"}} {n}'
            for (e, s), n in sorted(self.requests.items())
        ]
        lines += [
            "# HELP citizen_graph_request_seconds_sum Time spent answering requests.",
            "# TYPE citizen_graph_request_seconds_sum counter",
            f"citizen_graph_request_seconds_sum {self.request_seconds_sum:.6f}",
            "# HELP citizen_graph_upstream_calls_total Upstream calls (cached = served "
            "by the gateway's cache).",
            "# TYPE citizen_graph_upstream_calls_total counter",
        ]
        lines += [
            f'citizen_graph_upstream_calls_total{{source="{src}",operation="{op}",'
            f'status="{st}"}} {n}'
            for (src, op, st), n in sorted(self.upstream_calls.items())
        ]
        lines += [
            "# HELP citizen_graph_circuit_open 1 when the upstream's circuit is open or "
            "half open (probing).",
            "# TYPE citizen_graph_circuit_open gauge",
        ]
        lines += [
            f'citizen_graph_circuit_open{{source="{src}"}} {int(state != "closed")}'
            for src, state in sorted(circuits.items())
        ]
        lines += [
            "# HELP citizen_graph_client_circuits_open Clients whose own circuit of the "
            "upstream is open or half open.",
            "# TYPE citizen_graph_client_circuits_open gauge",
        ]
        lines += [
            f'citizen_graph_client_circuits_open{{source="{src}"}} {n}'
            for src, n in sorted((client_circuits or {}).items())
        ]
        return "\n".join(lines) + "\n"
