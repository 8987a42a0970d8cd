"""One registration per upstream: the cache, the settings checks and the sandbox pointing
read `UPSTREAMS`, and nothing else keeps its own list."""

from __future__ import annotations

import dataclasses

import pytest

from citizen_graph.cache import UpstreamCache
from citizen_graph.connectors import UPSTREAMS, Operation, operations, point_at_sandbox
from citizen_graph.connectors._client import ClientConfig
from citizen_graph.settings import CacheSettings, Settings, UpstreamSettings

pytestmark = pytest.mark.anyio


def test_every_registered_upstream_has_a_typed_settings_section() -> None:
    names = [field.name for field in dataclasses.fields(Settings)]
    for upstream in UPSTREAMS:
        assert upstream.name in names
        assert isinstance(upstream.settings(Settings()), UpstreamSettings)


def test_operation_names_are_unique_across_upstreams() -> None:
    names = [op.name for op in operations()]
    assert len(names) == len(set(names))


def test_the_client_config_gives_httpx_its_timeouts_and_pool_from_the_section() -> None:
    settings = Settings()
    settings = dataclasses.replace(
        settings, ban=dataclasses.replace(settings.ban, max_connections=3)
    )
    config = ClientConfig.of("ban", settings)
    assert config.timeout().read == settings.ban.read_timeout_s
    assert config.timeout().connect == settings.ban.connect_timeout_s
    assert config.limits().max_connections == 3
    assert config.rate_limit_per_s == settings.ban.rate_limit_per_s


def test_point_at_sandbox_puts_each_upstream_under_its_sandbox_path() -> None:
    settings = point_at_sandbox(Settings(), "http://127.0.0.1:9/")
    for upstream in UPSTREAMS:
        expected = "http://127.0.0.1:9" + upstream.sandbox_path
        assert upstream.settings(settings).base_url == expected


async def test_a_declared_operation_is_cached_with_its_own_ttl() -> None:
    declared = Operation("france_travail_status", "france_travail", lambda c: 42.0)
    cache = UpstreamCache(CacheSettings(), [declared])
    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        return "registered"

    assert await cache.get("france_travail_status", "k", fetch) == "registered"
    assert await cache.get("france_travail_status", "k", fetch) == "registered"
    assert calls == 1
    assert cache._values["france_travail_status"].ttl == 42.0
    assert not cache.per_caller("france_travail_status")


def test_answers_fetched_with_a_habilitation_are_keyed_by_it() -> None:
    cache = UpstreamCache(CacheSettings())
    per_caller = {op.name for op in operations() if cache.per_caller(op.name)}
    # Only the BAN, which needs no credential, is shared across habilitations.
    assert per_caller == {op.name for op in operations()} - {"geocode"}
