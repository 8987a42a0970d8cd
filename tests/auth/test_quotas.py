"""Quotas counted in process with an injected clock: distinct citizens and requests per
sliding window, refusals that consume nothing, Retry-After that says when it fits."""

from __future__ import annotations

import pytest

from citizen_graph.auth.quotas import Quota, QuotaBook
from citizen_graph.errors import RateLimited
from tests.connectors.conftest import FakeClock

TEN = Quota(citizens=10, window_s=60.0)


def test_a_citizen_asked_again_within_the_window_counts_once() -> None:
    book = QuotaBook(FakeClock())
    book.admit("c", TEN, [f"citizen-{n}" for n in range(10)])
    book.admit("c", TEN, ["citizen-3", "citizen-3", "citizen-9"])
    with pytest.raises(RateLimited):
        book.admit("c", TEN, ["citizen-10"])


def test_a_refused_request_consumes_nothing() -> None:
    book = QuotaBook(FakeClock())
    book.admit("c", TEN, [f"citizen-{n}" for n in range(8)])
    with pytest.raises(RateLimited):
        book.admit("c", TEN, ["a", "b", "c"])  # 11: refused whole
    book.admit("c", TEN, ["a", "b"])  # 10: fits, the refused ones were not counted


def test_retry_after_is_when_enough_citizens_leave_the_window() -> None:
    clock = FakeClock()
    book = QuotaBook(clock)
    book.admit("c", TEN, [f"early-{n}" for n in range(5)])
    clock.advance(20)
    book.admit("c", TEN, [f"late-{n}" for n in range(5)])
    with pytest.raises(RateLimited) as refused:
        book.admit("c", TEN, ["new"])
    assert refused.value.retry_after_s == 40  # the early ones leave at 60 s
    clock.advance(40)
    book.admit("c", TEN, ["new"])


def test_more_citizens_than_the_quota_in_one_request_wait_a_whole_window() -> None:
    book = QuotaBook(FakeClock())
    with pytest.raises(RateLimited) as refused:
        book.admit("c", TEN, [f"citizen-{n}" for n in range(11)])
    assert refused.value.retry_after_s == 60


def test_requests_are_counted_per_window() -> None:
    clock = FakeClock()
    book = QuotaBook(clock)
    quota = Quota(requests=3, window_s=10.0)
    for _ in range(3):
        book.admit("c", quota, [])
        clock.advance(1)
    with pytest.raises(RateLimited) as refused:
        book.admit("c", quota, [])
    assert refused.value.retry_after_s == 7
    assert refused.value.extensions == {"code": "RATE_LIMITED"}
    clock.advance(7)
    book.admit("c", quota, [])


def test_each_client_has_its_own_count() -> None:
    book = QuotaBook(FakeClock())
    book.admit("a", TEN, [f"citizen-{n}" for n in range(10)])
    book.admit("b", TEN, [f"citizen-{n}" for n in range(10)])
