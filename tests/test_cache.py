import asyncio

import pytest

from citizen_graph.cache import UpstreamCache
from citizen_graph.errors import NotFound, UpstreamUnavailable
from citizen_graph.settings import CacheSettings

pytestmark = pytest.mark.anyio


class Upstream:
    def __init__(self, outcome: object = "value") -> None:
        self.calls = 0
        self.outcome = outcome

    async def fetch(self) -> object:
        self.calls += 1
        await asyncio.sleep(0.01)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


async def test_second_get_is_served_from_cache_without_reusing_a_coroutine() -> None:
    cache, upstream = UpstreamCache(CacheSettings()), Upstream()
    assert await cache.get("tax_history", "k", upstream.fetch) == "value"
    assert await cache.get("tax_history", "k", upstream.fetch) == "value"
    assert upstream.calls == 1


async def test_concurrent_identical_gets_make_one_upstream_call() -> None:
    cache, upstream = UpstreamCache(CacheSettings()), Upstream()
    results = await asyncio.gather(
        *(cache.get("family_quotient", "k", upstream.fetch) for _ in range(20))
    )
    assert results == ["value"] * 20
    assert upstream.calls == 1


async def test_absence_is_cached() -> None:
    cache, upstream = UpstreamCache(CacheSettings()), Upstream(NotFound("dgfip"))
    for _ in range(2):
        with pytest.raises(NotFound):
            await cache.get("tax_history", "k", upstream.fetch)
    assert upstream.calls == 1


async def test_absence_expires_sooner_than_values() -> None:
    cache = UpstreamCache(CacheSettings(not_found_ttl_s=0.0))
    upstream = Upstream(NotFound("dgfip"))
    for _ in range(2):
        with pytest.raises(NotFound):
            await cache.get("tax_history", "k", upstream.fetch)
    assert upstream.calls == 2


async def test_failures_are_not_cached() -> None:
    cache = UpstreamCache(CacheSettings())
    upstream = Upstream(UpstreamUnavailable("dgfip"))
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await cache.get("tax_history", "k", upstream.fetch)
    assert upstream.calls == 2


async def test_get_many_fetches_only_the_misses_in_one_call() -> None:
    cache = UpstreamCache(CacheSettings())
    batches: list[list[str]] = []

    async def fetch_many(keys: list[str]) -> list[str]:
        batches.append(keys)
        return [k.upper() for k in keys]

    assert await cache.get_many("geocode", ["a", "b"], fetch_many) == ["A", "B"]
    assert await cache.get_many("geocode", ["b", "c", "c"], fetch_many) == [
        "B",
        "C",
        "C",
    ]
    assert batches == [["a", "b"], ["c"]]


async def test_get_many_waits_for_keys_already_in_flight() -> None:
    cache = UpstreamCache(CacheSettings())
    batches: list[list[str]] = []

    async def fetch_many(keys: list[str]) -> list[str]:
        batches.append(keys)
        await asyncio.sleep(0.01)
        return [k.upper() for k in keys]

    first, second = await asyncio.gather(
        cache.get_many("geocode", ["a", "b"], fetch_many),
        cache.get_many("geocode", ["b", "c"], fetch_many),
    )
    assert (first, second) == (["A", "B"], ["B", "C"])
    assert batches == [["a", "b"], ["c"]]


async def test_no_match_is_cached_only_briefly() -> None:
    cache = UpstreamCache(CacheSettings(not_found_ttl_s=0.0))
    batches: list[list[str]] = []

    async def fetch_many(keys: list[str]) -> list[None]:
        batches.append(keys)
        return [None for _ in keys]

    for _ in range(2):
        assert await cache.get_many("geocode", ["nowhere"], fetch_many) == [None]
    assert len(batches) == 2


async def test_a_waiter_gives_up_at_its_own_deadline_and_the_call_goes_on() -> None:
    from citizen_graph import request_scope

    cache = UpstreamCache(CacheSettings())
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "value"

    first = asyncio.ensure_future(cache.get("tax_history", "k", slow))
    await asyncio.sleep(0)
    with request_scope.open_scope(0.01), pytest.raises(UpstreamUnavailable):
        await cache.get("tax_history", "k", slow)
    release.set()
    assert await first == "value"
