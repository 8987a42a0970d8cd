"""Client quotas counted in Redis hold across processes, store no identifier, and fall
back to each process's share of the quota when Redis is lost."""

from __future__ import annotations

import pytest
import redis

from citizen_graph.auth.quotas import Quota
from citizen_graph.errors import RateLimited
from citizen_graph.shared.quotas import SharedQuotas
from tests.shared.conftest import StateFactory

pytestmark = pytest.mark.anyio

TEN = Quota(citizens=10, window_s=60)


def citizens(first: int, count: int) -> list[tuple[str, str]]:
    return [("fiscal_number", f"30000000{n:05d}") for n in range(first, first + count)]


async def test_citizens_counted_by_one_process_count_for_the_other(
    open_state: StateFactory,
) -> None:
    one, other = SharedQuotas(await open_state()), SharedQuotas(await open_state())
    await one.count("portal", TEN, citizens(0, 6))
    await other.count("portal", TEN, citizens(0, 6))  # the same six: counted once
    with pytest.raises(RateLimited) as refused:
        await other.count("portal", TEN, citizens(6, 5))  # 6 + 5 > 10
    assert refused.value.retry_after_s >= 1
    assert refused.value.max_citizens is None  # five alone would fit
    await one.count("portal", TEN, citizens(6, 4))  # a refusal counted nothing


async def test_a_request_alone_above_the_quota_says_how_many_fit(
    open_state: StateFactory,
) -> None:
    quotas = SharedQuotas(await open_state())
    with pytest.raises(RateLimited) as refused:
        await quotas.count("portal", TEN, citizens(0, 11))
    assert refused.value.max_citizens == 10
    assert refused.value.retry_after_s == 60


async def test_requests_are_counted_across_processes(open_state: StateFactory) -> None:
    three = Quota(requests=3, window_s=60)
    one, other = SharedQuotas(await open_state()), SharedQuotas(await open_state())
    await one.count("portal", three, [])
    await other.count("portal", three, [])
    await one.count("portal", three, [])
    with pytest.raises(RateLimited, match="3 requests per 60 s"):
        await other.count("portal", three, [])


async def test_each_client_has_its_own_quota(open_state: StateFactory) -> None:
    quotas = SharedQuotas(await open_state())
    await quotas.count("portal", TEN, citizens(0, 10))
    await quotas.count("ccas", TEN, citizens(0, 10))


async def test_redis_holds_the_citizens_as_keyed_hashes_only(
    open_state: StateFactory, redis_url: str
) -> None:
    quotas = SharedQuotas(await open_state())
    await quotas.count("portal", TEN, citizens(0, 3))
    with redis.Redis.from_url(redis_url) as client:
        stored = [key for key in client.scan_iter()]
        for key in list(stored):
            stored += [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
    assert b"3000000000000" not in b" ".join(stored)
    assert not any(b"portal" in key for key in stored)


async def test_a_lost_redis_leaves_each_process_its_share_of_the_quota(
    open_state: StateFactory,
) -> None:
    state = await open_state(url="redis://127.0.0.1:9/0", processes=2, timeout_s=0.2)
    quotas = SharedQuotas(state)
    await quotas.count("portal", TEN, citizens(0, 5))  # half of 10
    with pytest.raises(RateLimited):
        await quotas.count("portal", TEN, citizens(5, 1))
