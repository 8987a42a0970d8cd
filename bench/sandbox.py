"""The sandbox as the benchmark runs it: `citizen-graph sandbox`, optionally without BAN's per-IP
limit (50 requests/s, then 5 s of 429), so that each gateway is measured on its own cost.

The sandbox has no setting for that limit, so the BAN upstream is swapped, through
`create_sandbox_app(upstreams=...)`, for one whose routes skip the limit.
Run: python -m bench.sandbox --port P [--latency none] [--lift-ban-limit]
"""

from __future__ import annotations

import argparse
import dataclasses

import uvicorn

from citizen_graph.sandbox import create_sandbox_app
from citizen_graph.sandbox.ban import BAN, Ban, Handler
from citizen_graph.sandbox.registry import REGISTRY
from citizen_graph.telemetry import configure_logging


class BanWithoutLimit(Ban):
    """BAN as simulated, less its per-IP rate limit."""

    def _limited(self, handler: Handler) -> Handler:
        return handler


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", default="none")
    parser.add_argument("--lift-ban-limit", action="store_true")
    args = parser.parse_args()
    upstreams = REGISTRY
    if args.lift_ban_limit:
        unlimited = dataclasses.replace(BAN, build=BanWithoutLimit.build)
        upstreams = tuple(unlimited if u is BAN else u for u in REGISTRY)
    configure_logging()
    uvicorn.run(
        create_sandbox_app(latency=args.latency, upstreams=upstreams),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
