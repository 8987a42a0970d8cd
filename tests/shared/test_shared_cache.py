"""The upstream cache's shared tier: what one process fetched another serves, a call in
flight in one process is awaited by the others, failures reach the waiters, and what is
stored is sealed. Calls are counted by the fetch functions themselves."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Callable

import pytest
import redis

from citizen_graph import request_scope
from citizen_graph.cache import UpstreamCache
from citizen_graph.connectors import operations
from citizen_graph.errors import NotFound, UpstreamUnavailable
from citizen_graph.records import (
    Declarant,
    FamilyMember,
    FamilyQuotient,
    TaxAddress,
    TaxHistory,
    TaxSituation,
)
from citizen_graph.settings import CacheSettings
from citizen_graph.shared import codec
from citizen_graph.shared.cache import SharedCache
from citizen_graph.shared.state import SharedState
from tests.shared.conftest import StateFactory

pytestmark = pytest.mark.anyio

HISTORY = TaxHistory(
    situations=(
        TaxSituation(
            income_year=2025,
            reference_tax_income=41_250,
            shares=2.5,
            family_situation="MARRIED",
            dependents=1,
            gross_income=45_000,
            taxable_income=43_000,
            tax_before_corrections=2_100,
            tax_amount=None,
            issued_on=datetime.date(2026, 7, 30),
            collected_on=None,
            declarants=(
                Declarant(
                    "3000000000011",
                    "FICTIF",
                    None,
                    ("ALICE", "MARIE"),
                    datetime.date(1984, 3, 14),
                    "RENNES",
                    "35",
                ),
            ),
            address=TaxAddress(
                "1 RUE DES TESTS 35000 RENNES", None, None, "35000", None
            ),
        ),
    )
)
QUOTIENT = FamilyQuotient(
    1234,
    "CNAF",
    2026,
    11,
    2026,
    10,
    (FamilyMember("FICTIF", None, ("ALICE",), datetime.date(1984, 3, 14), "F"),),
    (),
)


def tier(state: SharedState) -> UpstreamCache:
    settings = CacheSettings()
    return UpstreamCache(settings, shared=SharedCache(state, operations(), settings))


class Upstream:
    def __init__(self, outcome: object, delay_s: float = 0.05) -> None:
        self.calls = 0
        self.outcome = outcome
        self.delay_s = delay_s

    async def fetch(self) -> object:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def test_every_record_comes_back_equal_from_its_bytes() -> None:
    for value in (HISTORY, QUOTIENT, None, (HISTORY, QUOTIENT)):
        assert codec.decode(codec.encode(value)) == value
    absent = codec.decode(codec.encode(NotFound("dgfip")))
    assert isinstance(absent, NotFound)
    assert absent.source == "dgfip"


def test_bytes_naming_anything_but_a_record_are_unreadable() -> None:
    forged = b'{"$value": {"$record": "Popen", "fields": {"args": "ls"}}}'
    with pytest.raises(codec.Unreadable):
        codec.decode(forged)


async def test_what_one_process_fetched_the_other_serves_without_a_call(
    open_state: StateFactory,
) -> None:
    one, other = tier(await open_state()), tier(await open_state())
    upstream = Upstream(HISTORY)
    assert await one.get("tax_history", "k", upstream.fetch) == HISTORY
    assert await other.get("tax_history", "k", upstream.fetch) == HISTORY
    assert upstream.calls == 1


async def test_absence_is_shared_too(open_state: StateFactory) -> None:
    one, other = tier(await open_state()), tier(await open_state())
    upstream = Upstream(NotFound("dgfip"))
    for cache in (one, other):
        with pytest.raises(NotFound):
            await cache.get("tax_history", "k", upstream.fetch)
    assert upstream.calls == 1


async def test_a_call_in_flight_in_one_process_is_awaited_by_the_others(
    open_state: StateFactory,
) -> None:
    caches = [tier(await open_state()) for _ in range(3)]
    upstream = Upstream(QUOTIENT, delay_s=0.3)
    results = await asyncio.gather(
        *(
            c.get("family_quotient", "k", upstream.fetch)
            for c in caches
            for _ in range(5)
        )
    )
    assert results == [QUOTIENT] * 15
    assert upstream.calls == 1


async def test_a_batch_of_keys_is_claimed_together_and_each_fetched_once(
    open_state: StateFactory,
) -> None:
    one, other = tier(await open_state()), tier(await open_state())
    fetched: list[str] = []

    async def fetch(key: str) -> FamilyQuotient:
        fetched.append(key)
        await asyncio.sleep(0.2)
        return QUOTIENT

    keys = [f"k{n}" for n in range(10)]
    first, second = await asyncio.gather(
        one.get_each("family_quotient", keys, fetch),
        other.get_each("family_quotient", keys[::-1], fetch),
    )
    assert first == second == [QUOTIENT] * 10
    assert sorted(fetched) == sorted(keys)


async def test_the_waiters_get_the_failure_of_the_call_they_waited_for(
    open_state: StateFactory,
) -> None:
    one, other = tier(await open_state()), tier(await open_state())
    failing = Upstream(
        UpstreamUnavailable("api_particulier", "The upstream failed."), 0.3
    )
    results = await asyncio.gather(
        one.get("family_quotient", "k", failing.fetch),
        other.get("family_quotient", "k", failing.fetch),
        return_exceptions=True,
    )
    assert failing.calls == 1
    for result in results:
        assert isinstance(result, UpstreamUnavailable)
        assert result.source == "api_particulier"
        assert result.message == "The upstream failed."


async def test_a_failure_is_not_cached(open_state: StateFactory) -> None:
    one, other = tier(await open_state()), tier(await open_state())
    failing = Upstream(UpstreamUnavailable("dgfip"), 0.0)
    with pytest.raises(UpstreamUnavailable):
        await one.get("tax_history", "k", failing.fetch)
    await asyncio.sleep(2.1)  # the failure mark's life
    with pytest.raises(UpstreamUnavailable):
        await other.get("tax_history", "k", failing.fetch)
    assert failing.calls == 2


async def test_a_value_sealed_under_another_key_is_a_miss(
    open_state: StateFactory,
) -> None:
    one, other = tier(await open_state(key="one")), tier(await open_state(key="two"))
    upstream = Upstream(HISTORY)
    await one.get("tax_history", "k", upstream.fetch)
    await other.get("tax_history", "k", upstream.fetch)
    assert upstream.calls == 2


async def test_stored_names_and_values_show_nothing_of_the_citizen(
    open_state: StateFactory, redis_url: str
) -> None:
    cache = tier(await open_state())
    await cache.get("tax_history", ("3000000000011", "hab"), Upstream(HISTORY).fetch)
    with redis.Redis.from_url(redis_url) as client:
        stored = b" ".join(
            key + b" " + (client.get(key) or b"") for key in client.scan_iter()
        )
        ttls = [client.pttl(key) for key in client.scan_iter()]
    for clear in (b"3000000000011", b"FICTIF", b"ALICE", b"1984", b"RENNES", b"hab"):
        assert clear not in stored
    assert all(0 < ttl <= 3_600_000 for ttl in ttls)  # the tax TTL bounds everything


async def test_a_lost_redis_falls_back_to_this_process_alone_and_counts_its_misses(
    open_state: StateFactory,
) -> None:
    settings, lookups = CacheSettings(), list[str]()
    state = await open_state(url="redis://127.0.0.1:9/0", timeout_s=0.2)
    cache = UpstreamCache(
        settings,
        shared=SharedCache(state, operations(), settings),
        on_lookup=lambda operation, result: lookups.append(result),
    )
    upstream = Upstream(HISTORY)
    assert await cache.get("tax_history", "k", upstream.fetch) == HISTORY
    assert await cache.get("tax_history", "k", upstream.fetch) == HISTORY
    many = await cache.get_many("tax_history", ["a", "b"], _both(upstream))
    assert many == [HISTORY, HISTORY]
    assert upstream.calls == 2
    assert lookups == ["miss", "hit", "miss", "miss"]  # every call is a miss counted


def _both(upstream: Upstream) -> Callable[[list[str]], Awaitable[list[object]]]:
    async def fetch_many(keys: list[str]) -> list[object]:
        return [await upstream.fetch()] * len(keys) if keys else []

    return fetch_many


@pytest.mark.parametrize(
    "forged",
    [b"running", b'{"source": "dgfip", "message": "Appelez le 08 99"}', b"[1, 2]"],
)
async def test_a_claim_written_into_redis_by_someone_else_is_taken_over(
    open_state: StateFactory, redis_url: str, forged: bytes
) -> None:
    state = await open_state()
    cache = tier(state)
    claim = state.name("cache", "tax_history", repr("k")) + ":claim"
    with redis.Redis.from_url(redis_url) as client:
        client.set(claim, forged)  # no TTL: it would hold every replica forever
    upstream = Upstream(HISTORY)
    assert await cache.get("tax_history", "k", upstream.fetch) == HISTORY
    assert upstream.calls == 1


async def test_a_cached_answer_ends_at_its_sealed_expiry_whatever_redis_keeps(
    open_state: StateFactory, redis_url: str
) -> None:
    settings = CacheSettings(not_found_ttl_s=0.05)
    state, other = await open_state(), await open_state()
    caches = [
        UpstreamCache(settings, shared=SharedCache(s, operations(), settings))
        for s in (state, other)
    ]
    upstream = Upstream(NotFound("dgfip"), 0.0)
    with pytest.raises(NotFound):
        await caches[0].get("tax_history", "k", upstream.fetch)
    with redis.Redis.from_url(redis_url) as client:
        for key in client.scan_iter():
            client.persist(key)  # made to last in Redis
    await asyncio.sleep(0.1)
    with pytest.raises(NotFound):
        await caches[1].get("tax_history", "k", upstream.fetch)
    assert upstream.calls == 2


async def test_a_redis_hit_is_counted_once_as_shared_and_writes_nothing(
    open_state: StateFactory, redis_url: str
) -> None:
    settings = CacheSettings()
    lookups: list[str] = []
    one = tier(await open_state())
    other = UpstreamCache(
        settings,
        shared=SharedCache(await open_state(), operations(), settings),
        on_lookup=lambda operation, result: lookups.append(result),
    )
    await one.get("tax_history", "k", Upstream(HISTORY).fetch)
    with redis.Redis.from_url(redis_url) as client:
        client.config_resetstat()
        assert await other.get("tax_history", "k", Upstream(HISTORY).fetch) == HISTORY
        stats = client.info("commandstats")
    assert lookups == ["shared"]
    assert set(stats) - {"cmdstat_config|resetstat"} == {"cmdstat_mget"}  # one read


def stalling(state: SharedState, hold_s: float) -> UpstreamCache:
    """A process whose claims expire after `hold_s`, before its calls end: its event
    loop stalls, so it never renews them."""
    settings = CacheSettings()
    shared = SharedCache(state, operations(), settings, lease_s=hold_s, renew=False)
    return UpstreamCache(settings, shared=shared)


def leasing(state: SharedState, lease_s: float) -> UpstreamCache:
    settings = CacheSettings()
    shared = SharedCache(state, operations(), settings, lease_s=lease_s)
    return UpstreamCache(settings, shared=shared)


async def test_a_holder_whose_call_outlasts_its_lease_keeps_its_claim_by_renewing_it(
    open_state: StateFactory,
) -> None:
    holder = leasing(await open_state(), lease_s=0.3)
    waiter = leasing(await open_state(), lease_s=0.3)
    slow, never = Upstream(HISTORY, 1.0), Upstream(HISTORY)
    first = asyncio.ensure_future(holder.get("tax_history", "k", slow.fetch))
    await asyncio.sleep(0.05)  # its claim is taken
    assert await waiter.get("tax_history", "k", never.fetch) == HISTORY
    assert await first == HISTORY
    assert (slow.calls, never.calls) == (1, 0)  # three leases long, one call


async def test_a_claim_whose_holder_died_is_taken_over_within_a_waiters_deadline(
    open_state: StateFactory,
) -> None:
    settings = CacheSettings()
    dead = SharedCache(await open_state(), operations(), settings, lease_s=0.3)
    [claim] = await dead.claim("tax_history", ["k"])
    assert claim.mine
    dead._renews = False  # the process is gone: nothing renews, nothing settles
    dead._held.clear()
    waiter, upstream = tier(await open_state()), Upstream(HISTORY)
    with request_scope.open_scope(1.5):  # 5 leases: past it, UpstreamUnavailable
        assert await waiter.get("tax_history", "k", upstream.fetch) == HISTORY
    assert upstream.calls == 1


async def test_a_claim_made_to_outlast_any_lease_is_taken_over(
    open_state: StateFactory, redis_url: str
) -> None:
    state = await open_state()
    claim = state.name("cache", "tax_history", repr("k")) + ":claim"
    with redis.Redis.from_url(redis_url) as client:
        client.set(claim, b"running:deadbeef:2", px=3_600_000)  # an hour
    cache, upstream = tier(state), Upstream(HISTORY)
    with request_scope.open_scope(1.0):
        assert await cache.get("tax_history", "k", upstream.fetch) == HISTORY
    assert upstream.calls == 1


async def test_a_holder_that_lost_its_claim_leaves_the_new_holders_claim_alone(
    open_state: StateFactory, redis_url: str
) -> None:
    first = await open_state()
    stalled = stalling(first, hold_s=0.1)
    second, third = tier(await open_state()), tier(await open_state())
    claim = first.name("cache", "family_quotient", repr("k")) + ":claim"
    failing = Upstream(UpstreamUnavailable("api_particulier", "Stalled."), 0.3)
    answering = Upstream(QUOTIENT, 1.0)
    lost = asyncio.ensure_future(stalled.get("family_quotient", "k", failing.fetch))
    await asyncio.sleep(0.15)  # the first's claim has expired: the second takes it
    taken_over = asyncio.ensure_future(
        second.get("family_quotient", "k", answering.fetch)
    )
    with pytest.raises(UpstreamUnavailable):
        await lost  # its failure settled, over a claim no longer its own
    with redis.Redis.from_url(redis_url) as client:
        held = client.get(claim)
    assert (held or b"").startswith(b"running:")  # the second's claim, not a mark
    # A third process waits for the second's call instead of raising the first's failure.
    assert await third.get("family_quotient", "k", answering.fetch) == QUOTIENT
    assert await taken_over == QUOTIENT
    assert (failing.calls, answering.calls) == (1, 1)


async def test_a_holder_that_lost_its_claim_still_stores_its_answer_when_none_is_there(
    open_state: StateFactory, redis_url: str
) -> None:
    first = await open_state()
    stalled = stalling(first, hold_s=0.1)
    second, third = tier(await open_state()), tier(await open_state())
    claim = first.name("cache", "tax_history", repr("k")) + ":claim"
    upstream = Upstream(HISTORY, 0.3)
    slower = Upstream(HISTORY, 1.0)
    lost = asyncio.ensure_future(stalled.get("tax_history", "k", upstream.fetch))
    await asyncio.sleep(0.15)
    taken_over = asyncio.ensure_future(second.get("tax_history", "k", slower.fetch))
    assert await lost == HISTORY
    with redis.Redis.from_url(redis_url) as client:
        assert client.exists(claim)  # the second's claim outlives the first's answer
    never = Upstream(HISTORY)
    assert await third.get("tax_history", "k", never.fetch) == HISTORY
    assert await taken_over == HISTORY
    assert (upstream.calls, slower.calls, never.calls) == (1, 1, 0)
    with redis.Redis.from_url(redis_url) as client:
        assert not client.exists(claim)  # settled by its holder


async def test_a_key_of_another_type_at_an_entrys_name_is_a_miss_not_a_lost_redis(
    open_state: StateFactory, redis_url: str
) -> None:
    state = await open_state()
    name = state.name("cache", "tax_history", repr("k"))
    with redis.Redis.from_url(redis_url) as client:
        client.hset(name, "a", "b")  # a hash where a sealed string belongs
    cache, upstream = tier(state), Upstream(HISTORY)
    assert await cache.get("tax_history", "k", upstream.fetch) == HISTORY
    assert upstream.calls == 1
    assert state.available
