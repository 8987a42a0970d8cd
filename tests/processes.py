"""Servers the tests start as processes of their own (`citizen-graph serve …`)."""

from __future__ import annotations

import subprocess
import time

import httpx


def wait_until_ready(
    url: str, process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout_s: float
) -> None:
    """Until `url`/readyz answers 200; fails if the process ends or time runs out (two
    interpreters starting on a busy 2-core machine take seconds)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, "the server ended before it was ready"
        assert time.monotonic() < deadline, f"{url} was not ready in {timeout_s:g} s"
        time.sleep(0.1)
