"""The registry of simulated upstreams drives the app's routes, `/_sandbox` and latency: a new
upstream is one declaration plus one registration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from citizen_graph.sandbox import create_sandbox_app
from citizen_graph.sandbox.latency import Latency, Lognormal
from citizen_graph.sandbox.registry import REGISTRY, check, latency_profile
from citizen_graph.sandbox.runtime import Runtime
from citizen_graph.sandbox.upstream import SimulatedUpstream, World
from tests.sandbox.helpers import TODAY

pytestmark = pytest.mark.anyio
NAMES = [u.name for u in REGISTRY]
ECHO_KEY = "echo-secret-key"


class Echo:
    """A toy upstream: one route, its own error format, one key, one helper."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @classmethod
    def build(cls, world: World) -> Echo:
        return cls(world.runtime)

    def routes(self) -> list[BaseRoute]:
        return [
            self._runtime.route("echo", "GET", "/echo/ping", self.ping, self.failure)
        ]

    async def ping(self, request: Request) -> Response:
        if request.headers.get("x-echo-key") != ECHO_KEY:
            return self.failure(request, 401)
        self._runtime.authenticated(request, "echo-key-1")
        await self._runtime.work("echo")
        return JSONResponse({"pong": True})

    def failure(self, request: Request, status: int) -> Response:
        return JSONResponse({"echo_error": status}, status_code=status)

    def credentials(self) -> dict[str, str]:
        return {"key": ECHO_KEY}

    def admin_routes(self) -> list[BaseRoute]:
        async def hello(request: Request) -> Response:
            return JSONResponse({"hello": "echo"})

        return [Route("/_sandbox/echo/hello", hello)]


def echo_document() -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": "Echo"}, "paths": {}}


ECHO = SimulatedUpstream(
    name="echo",
    prefix="/echo",
    build=Echo.build,
    openapi=echo_document,
    latency={"realistic": Latency(Lognormal(0.001, 0.1))},
)


@pytest.fixture(scope="module")
def echo_app() -> Any:
    return create_sandbox_app(households=20, today=TODAY, upstreams=(*REGISTRY, ECHO))


@pytest.fixture
async def echo_client(echo_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=echo_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        yield c


async def test_stats_faults_openapi_and_credentials_know_exactly_the_registry(
    client: httpx.AsyncClient,
) -> None:
    assert NAMES == ["dgfip", "api_particulier", "ban"]
    stats = (await client.get("/_sandbox/stats")).json()["upstreams"]
    assert list(stats) == NAMES
    assert all(entry["credentials"] == {} for entry in stats.values())
    for name in NAMES:
        fault = await client.put(f"/_sandbox/faults/{name}", json={"latency_ms": 1})
        assert fault.status_code == 200
        document = await client.get(f"/_sandbox/openapi/{name}.json")
        assert document.status_code == 200
    assert list((await client.get("/_sandbox/faults")).json()["faults"]) == NAMES
    credentials = (await client.get("/_sandbox/credentials")).json()
    assert list(credentials) == ["dgfip", "api_particulier"]  # BAN needs none
    assert (await client.get("/_sandbox/openapi/echo.json")).status_code == 404
    assert (await client.put("/_sandbox/faults/echo", json={})).status_code == 404


@pytest.mark.parametrize("upstream", REGISTRY, ids=NAMES)
async def test_any_other_path_under_a_prefix_is_counted_and_refused(
    client: httpx.AsyncClient, upstream: SimulatedUpstream
) -> None:
    response = await client.get(f"{upstream.prefix}/nowhere")
    assert response.status_code == 404
    stats = (await client.get("/_sandbox/stats")).json()["upstreams"][upstream.name]
    assert stats["routes"] == {f"GET {upstream.prefix}/{{path}}": 1}


async def test_a_new_upstream_is_one_declaration_and_one_registration(
    echo_client: httpx.AsyncClient,
) -> None:
    headers = {"X-Echo-Key": ECHO_KEY}
    assert (await echo_client.get("/echo/ping", headers=headers)).json() == {
        "pong": True
    }
    assert (await echo_client.get("/echo/ping")).status_code == 401
    missing = await echo_client.get("/echo/elsewhere")
    assert (missing.status_code, missing.json()) == (404, {"echo_error": 404})
    stats = (await echo_client.get("/_sandbox/stats")).json()["upstreams"]
    assert list(stats) == [*NAMES, "echo"]
    assert stats["echo"]["calls"] == 3
    assert stats["echo"]["credentials"] == {"echo-key-1": 1}
    await echo_client.put("/_sandbox/faults/echo", json={"outage": True})
    down = await echo_client.get("/echo/ping", headers=headers)
    assert (down.status_code, down.json()) == (503, {"echo_error": 503})
    await echo_client.delete("/_sandbox/faults")
    document = (await echo_client.get("/_sandbox/openapi/echo.json")).json()
    assert document == echo_document()
    credentials = (await echo_client.get("/_sandbox/credentials")).json()
    assert credentials["echo"] == {"key": ECHO_KEY}
    assert (await echo_client.get("/_sandbox/echo/hello")).json() == {"hello": "echo"}
    await echo_client.delete("/_sandbox/stats")


def test_latency_profiles_are_made_of_each_upstreams_entry() -> None:
    registry = (*REGISTRY, ECHO)
    assert (
        latency_profile("realistic", registry).of("echo") == ECHO.latency["realistic"]
    )
    assert latency_profile("none", registry).of("echo") == Latency()
    realistic = latency_profile("realistic")
    assert all(realistic.of(u.name) == u.latency["realistic"] for u in REGISTRY)


def upstream(name: str, prefix: str, **latency: Latency) -> SimulatedUpstream:
    return SimulatedUpstream(name, prefix, Echo.build, echo_document, latency)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (upstream("ban", "/ban2"), "share a name"),
        (upstream("echo", "/ban"), "share a prefix"),
        (upstream("echo", "echo"), "bad prefix"),
        (upstream("echo", "/echo", slow=Latency()), "latency profile"),
    ],
)
def test_a_registry_that_contradicts_itself_is_refused(
    extra: SimulatedUpstream, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check((*REGISTRY, extra))
