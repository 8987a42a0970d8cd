"""Serving an ASGI app with uvicorn on a background thread (embedded sandbox, tests, bench).

The socket is bound before the thread starts, so port 0 works and the URL is known at once.
A server on a non-main thread installs no signal handlers of its own. Every server runs on
uvloop with httptools (`SERVER_OPTIONS`, also `citizen-graph serve`'s).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Literal

import uvicorn
from starlette.types import ASGIApp

# uvloop's event loop and httptools' parser: the loop and HTTP parsing were 12-27 % of a
# query's CPU with asyncio's and h11. uvloop also sets TCP_NODELAY on every accepted socket.
SERVER_OPTIONS: dict[str, Any] = {"loop": "uvloop", "http": "httptools"}


def listening_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A TCP listening socket whose accepted sockets get TCP_NODELAY on any event loop:
    asyncio sets it only on sockets whose protocol is IPPROTO_TCP, and a socket made as
    `socket(AF_INET, SOCK_STREAM)` has protocol 0 (then Nagle's algorithm and delayed ACKs
    stall each small response by tens of milliseconds). `reuse_port`: several processes
    bind the same port, each with its own socket (workers.py)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class ThreadedServer:
    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: Literal["auto", "on", "off"] = "on",
    ) -> None:
        self._socket = listening_socket(host, port)
        self.host, self.port = self._socket.getsockname()[:2]
        # uvicorn's logging settings are process-wide (`access_log=False` silences every
        # server's access log): this one leaves the logging of the process as it is.
        config = uvicorn.Config(
            app, lifespan=lifespan, log_config=None, log_level=None, **SERVER_OPTIONS
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"uvicorn-{self.port}",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._socket.close()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
