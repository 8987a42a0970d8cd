"""Connectors opened against the session sandbox, outside any gateway, and a scripted
upstream on loopback for the client's own behaviours (retries, circuits, pauses)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.datastructures import Secret
from starlette.types import Receive, Scope, Send

from citizen_graph.access import Access, DgfipCredential, ParticulierCredential
from citizen_graph.connectors import Connectors, open_connectors, point_at_sandbox
from citizen_graph.connectors._client import ClientConfig, SubjectError, UpstreamClient
from citizen_graph.serving import ThreadedServer
from tests.conftest import gateway_settings

RECIPIENT = "21350238800019"
# For scripted upstreams, which check no credential.
SCRIPTED = Access(
    "scripted",
    RECIPIENT,
    ParticulierCredential(Secret("token"), "token-id"),
    DgfipCredential("client-id", Secret("client-secret")),
)


@pytest.fixture
def access(sandbox: httpx.Client) -> Access:
    """A habilitation holding the sandbox's own credentials (every scope)."""
    given = sandbox.get("/_sandbox/credentials").json()
    token = given["api_particulier"]["token"]
    dgfip = given["dgfip"]
    return Access(
        "sandbox-habilitation",
        RECIPIENT,
        ParticulierCredential(Secret(token), "sandbox-token"),
        DgfipCredential(dgfip["client_id"], Secret(dgfip["client_secret"])),
    )


@pytest.fixture
async def connectors(
    sandbox: httpx.Client, sandbox_server: ThreadedServer
) -> AsyncIterator[Connectors]:
    url = sandbox_server.url
    settings = point_at_sandbox(gateway_settings(url), url)
    async with open_connectors(settings) as opened:
        yield opened


@dataclass
class Answer:
    """One scripted answer; with `hold`, sent only once the test sets the event."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"{}"
    hold: threading.Event | None = None


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]


TOKEN_ANSWER = b'{"access_token": "scripted", "expires_in": 3600}'


class ScriptedUpstream:
    """An ASGI app answering from a script, recording every request it received; an
    OAuth token request (`POST …/token`, DGFiP's) is answered apart, never scripted."""

    def __init__(self) -> None:
        self.script: list[Answer] = []  # answered in order, then `otherwise`
        self.otherwise = Answer()
        self.received: list[Received] = []

    def reset(self) -> None:
        self.script.clear()
        self.otherwise = Answer()
        self.received.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        while (await receive()).get("more_body"):
            pass
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if scope["method"] == "POST" and scope["path"].endswith("/token"):
            answer = Answer(body=TOKEN_ANSWER)
        else:
            self.received.append(Received(scope["method"], scope["path"], headers))
            answer = self.script.pop(0) if self.script else self.otherwise
        if answer.hold is not None:
            await asyncio.to_thread(answer.hold.wait, 10.0)
        raw_headers = [(k.encode(), v.encode()) for k, v in answer.headers.items()]
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [(b"content-type", b"application/json"), *raw_headers],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})


@pytest.fixture(scope="session")
def scripted_server() -> Iterator[tuple[ScriptedUpstream, ThreadedServer]]:
    app = ScriptedUpstream()
    with ThreadedServer(app, lifespan="off") as server:
        yield app, server


@pytest.fixture
def upstream(
    scripted_server: tuple[ScriptedUpstream, ThreadedServer],
) -> Iterator[ScriptedUpstream]:
    """A real HTTP upstream on loopback whose answers the test writes."""
    app, _ = scripted_server
    app.reset()
    yield app
    for answer in [*app.script, app.otherwise]:
        if answer.hold is not None:
            answer.hold.set()


@pytest.fixture
async def open_client(
    scripted_server: tuple[ScriptedUpstream, ThreadedServer],
) -> AsyncIterator[Callable[..., UpstreamClient]]:
    """`open_client(source, **config)`: an `UpstreamClient` of the scripted upstream,
    closed after the test."""
    _, server = scripted_server
    opened: list[UpstreamClient] = []

    def open_one(
        source: str = "ban",
        base_url: str | None = None,
        subject_error: SubjectError | None = None,
        **config: Any,
    ) -> UpstreamClient:
        settings = {
            "connect_timeout_s": 1.0,
            "read_timeout_s": 5.0,
            "max_connections": 5,
        } | config
        client_config = ClientConfig(source, base_url or server.url, **settings)
        if subject_error is None:
            client = UpstreamClient(client_config)
        else:
            client = UpstreamClient(client_config, subject_error=subject_error)
        opened.append(client)
        return client

    yield open_one
    for client in opened:
        await client.aclose()


class FakeClock:
    """Time that moves only when the test (or a component's injected sleep) moves it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
