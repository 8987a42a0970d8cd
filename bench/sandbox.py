"""The sandbox as the benchmark runs it: `citizen-graph sandbox`, optionally without BAN's per-IP
limit (50 requests/s, then 5 s of 429), so that each gateway is measured on its own cost.

Run: python -m bench.sandbox --port P [--latency none] [--lift-ban-limit]
(the same as `citizen-graph sandbox --port P --ban-rate-limit-per-s 0`).
"""

from __future__ import annotations

import argparse

import uvicorn

from citizen_graph.sandbox import create_sandbox_app
from citizen_graph.telemetry import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", default="none")
    parser.add_argument("--lift-ban-limit", action="store_true")
    args = parser.parse_args()
    configure_logging()
    uvicorn.run(
        create_sandbox_app(
            latency=args.latency, rate_limits={"ban": 0} if args.lift_ban_limit else {}
        ),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
