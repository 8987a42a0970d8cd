"""Connectors opened against the session sandbox, outside any gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from citizen_graph.connectors import Connectors, open_connectors
from citizen_graph.serving import ThreadedServer
from tests.conftest import gateway_settings


@pytest.fixture
async def connectors(
    sandbox: httpx.Client, sandbox_server: ThreadedServer
) -> AsyncIterator[Connectors]:
    credentials = sandbox.get("/_sandbox/credentials").json()
    url = sandbox_server.url
    settings = gateway_settings(url)
    settings = settings.replace(
        "dgfip",
        base_url=f"{url}/dgfip",
        client_id=credentials["dgfip"]["client_id"],
        client_secret=credentials["dgfip"]["client_secret"],
    )
    settings = settings.replace(
        "api_particulier",
        base_url=f"{url}/api-particulier",
        token=credentials["api_particulier"]["token"],
    )
    settings = settings.replace("ban", base_url=f"{url}/ban")
    async with open_connectors(settings) as opened:
        yield opened
