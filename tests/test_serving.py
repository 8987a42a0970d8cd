"""How the gateway is served: uvloop and httptools, and TCP_NODELAY on accepted sockets,
checked on the socket options and the running loop, never by timing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
import uvloop
from starlette.types import Receive, Scope, Send

from citizen_graph.serving import ThreadedServer, listening_socket


async def accepted_nodelay() -> int:
    """TCP_NODELAY on the server side of a connection accepted from `listening_socket`."""
    loop = asyncio.get_running_loop()
    accepted: asyncio.Future[int] = loop.create_future()

    class Accept(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    sock = listening_socket("127.0.0.1", 0)
    server = await loop.create_server(Accept, sock=sock)
    _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
    nodelay = await accepted
    writer.close()
    server.close()
    return nodelay


Runner = Callable[[Coroutine[Any, Any, int]], int]


@pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_accepted_sockets_have_tcp_nodelay_on_either_loop(run: Runner) -> None:
    assert run(accepted_nodelay()) == 1


def test_the_threaded_servers_socket_is_a_tcp_one() -> None:
    server = ThreadedServer(lambda scope, receive, send: None)  # type: ignore[arg-type,return-value]
    try:
        assert server._socket.proto == socket.IPPROTO_TCP
    finally:
        server._socket.close()


async def loop_reporter(scope: Scope, receive: Receive, send: Send) -> None:
    loop = type(asyncio.get_running_loop())
    body = f"{loop.__module__}.{loop.__name__}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_servers_run_on_uvloop() -> None:
    with ThreadedServer(loop_reporter, lifespan="off") as server:
        assert httpx.get(server.url).text.startswith("uvloop")


def test_http_is_parsed_by_httptools() -> None:
    import uvicorn

    from citizen_graph.serving import SERVER_OPTIONS

    config = uvicorn.Config(loop_reporter, **SERVER_OPTIONS)
    config.load()
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"
