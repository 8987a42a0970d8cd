"""Fixtures of the sandbox tests: one app per session (its population takes a second to
build), a fresh client per test, statistics, rate-limit windows and faults reset before each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from citizen_graph.sandbox import create_sandbox_app
from tests.sandbox.helpers import TODAY


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sandbox_app() -> Starlette:
    return create_sandbox_app(today=TODAY)


@pytest.fixture(autouse=True)
def _reset(sandbox_app: Starlette) -> Iterator[None]:
    sandbox_app.state.sandbox.reset()
    yield
    sandbox_app.state.sandbox.reset()


@pytest.fixture
async def client(sandbox_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=sandbox_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sandbox"
    ) as client:
        yield client


@pytest.fixture
async def credentials(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/_sandbox/credentials")
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def dgfip_headers(
    client: httpx.AsyncClient, credentials: dict[str, Any]
) -> dict[str, str]:
    """Headers of a valid DGFiP data call (a fresh token, a correlation id)."""
    form = {
        "grant_type": "client_credentials",
        "scope": "RessourceIR",
        **credentials["dgfip"],
    }
    token = (await client.post("/dgfip/token", data=form)).json()["access_token"]
    return {"Authorization": f"Bearer {token}", "X-Correlation-ID": str(uuid.uuid4())}


@pytest.fixture
def ap_headers(credentials: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials['api_particulier']['token']}"}
