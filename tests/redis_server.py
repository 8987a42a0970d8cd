"""A real Redis server on a free loopback port, for the tests of the shared state.

`make test` installs Debian's redis-server when it is missing; a test run without it fails
with that instruction rather than skipping (CI must run these tests).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """`redis-server` without persistence; `stop()` and `start()` again on the same port
    (a Redis lost, then back). Its log goes to `log_folder` when given (the benchmark's
    results), else beside its data."""

    def __init__(self, log_folder: Path | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is missing: `make test` installs it "
                "(apt-get install redis-server)"
            )
        self._binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._folder = tempfile.TemporaryDirectory(prefix="citizen-graph-redis-")
        self._log = (log_folder or Path(self._folder.name)) / "redis-server.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None, "the server is not running"
        return self._process.pid

    def start(self) -> RedisServer:
        args = [self._binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", self._folder.name]
        log = self._log
        with log.open("ab") as output:  # the child keeps its own descriptor
            self._process = subprocess.Popen(
                args, stdout=output, stderr=subprocess.STDOUT
            )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start: {log}") from None
                time.sleep(0.05)
        client.close()
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def close(self) -> None:
        self.stop()
        self._folder.cleanup()


@contextmanager
def running(log_folder: Path | None = None) -> Iterator[RedisServer]:
    """A started server, stopped and its data removed on leaving."""
    server = RedisServer(log_folder).start()
    try:
        yield server
    finally:
        server.close()
