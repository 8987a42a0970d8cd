"""Circuits, limiter and retry budget: pure logic on a fake clock, counted, never timed."""

import asyncio
import logging

import pytest

from citizen_graph.connectors._resilience import (
    CircuitBreaker,
    Circuits,
    Failure,
    RateLimitExceeded,
    RetryBudget,
    SlidingWindowLimiter,
)
from tests.connectors.conftest import FakeClock

pytestmark = pytest.mark.anyio


def test_breaker_opens_after_consecutive_failures_and_probes_once(
    clock: FakeClock,
) -> None:
    breaker = CircuitBreaker(threshold=3, open_s=30.0, clock=clock)
    for _ in range(2):
        breaker.failure()
    assert breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open"
    clock.advance(30.0)
    assert breaker.state == "half_open"
    assert breaker.allow() is True  # the single probe
    assert breaker.allow() is False
    breaker.success()
    assert breaker.state == "closed"


def test_breaker_stays_open_during_its_open_period(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=1, open_s=60.0, clock=clock)
    breaker.failure()
    clock.advance(59.9)
    assert breaker.state == "open"
    assert breaker.allow() is False


def test_a_success_before_the_threshold_resets_the_count(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=3, open_s=30.0, clock=clock)
    breaker.failure()
    breaker.failure()
    breaker.success()
    breaker.failure()
    breaker.failure()
    assert breaker.state == "closed"


def test_a_failed_probe_reopens_the_circuit(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=5, open_s=30.0, clock=clock)
    for _ in range(5):
        breaker.failure()
    clock.advance(30.0)
    assert breaker.allow() is True  # the probe
    clock.advance(10.0)
    breaker.failure()  # one failure is enough for a probe, below the threshold
    assert breaker.state == "open"  # for a full period again, from the probe's failure
    clock.advance(29.9)
    assert breaker.allow() is False


def test_after_a_failed_probe_a_later_probe_is_allowed(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=1, open_s=30.0, clock=clock)
    breaker.failure()
    for _ in range(3):  # each probe fails; each period ends with another probe
        clock.advance(30.0)
        assert breaker.allow() is True
        assert breaker.allow() is False
        breaker.failure()
        assert breaker.allow() is False
    clock.advance(30.0)
    assert breaker.allow() is True
    breaker.success()
    assert breaker.state == "closed"


def test_a_probe_that_never_reached_the_upstream_lets_another_try(
    clock: FakeClock,
) -> None:
    breaker = CircuitBreaker(threshold=1, open_s=30.0, clock=clock)
    breaker.failure()
    clock.advance(30.0)
    assert breaker.allow() is True  # the probe…
    assert breaker.allow() is False
    breaker.abandon()  # …found no slot before its deadline
    assert breaker.state == "half_open"
    assert breaker.allow() is True


async def test_limiter_refuses_a_slot_beyond_the_callers_deadline(
    clock: FakeClock,
) -> None:
    limiter = SlidingWindowLimiter(
        max_calls=3, window_s=10.0, clock=clock, sleep=clock.sleep
    )
    for _ in range(3):
        await limiter.acquire(max_wait_s=0.0)
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire(max_wait_s=9.9)
    assert clock.slept == []  # refused at once, not after waiting


async def test_limiter_honours_retry_after(clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(max_calls=100, clock=clock, sleep=clock.sleep)
    limiter.pause(30.0)
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire(max_wait_s=29.9)
    await limiter.acquire(max_wait_s=30.0)
    assert clock.slept == [30.0]


async def test_limiter_lets_calls_through_once_the_window_moved(
    clock: FakeClock,
) -> None:
    limiter = SlidingWindowLimiter(
        max_calls=2, window_s=1.0, margin_s=0.2, clock=clock, sleep=clock.sleep
    )
    starts = []
    for _ in range(5):
        await limiter.acquire(max_wait_s=5.0)
        starts.append(round(clock.now - 1000.0, 6))
    # two at once, then each pair one window plus the margin after the one before
    assert starts == [0.0, 0.0, 1.2, 1.2, 2.4]
    assert [round(s, 6) for s in clock.slept] == [1.2, 1.2]


async def test_a_burst_is_spread_over_the_window(clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(
        max_calls=20,
        window_s=1.0,
        margin_s=0.2,
        clock=clock,
        sleep=clock.sleep,
        burst=5,
    )
    starts = []
    for _ in range(20):
        await limiter.acquire(max_wait_s=5.0)
        starts.append(round(clock.now - 1000.0, 6))
    # five at once, then five more each 0.3 s (5/20 of the 1.2 s window) later
    assert starts == [0.0] * 5 + [0.3] * 5 + [0.6] * 5 + [0.9] * 5
    await limiter.acquire(max_wait_s=5.0)
    assert round(clock.now - 1000.0, 6) == 1.2  # the window still holds: 21st at 1.2


async def test_limiter_refuses_the_third_call_of_a_window_without_waiting_time(
    clock: FakeClock,
) -> None:
    limiter = SlidingWindowLimiter(
        max_calls=2, window_s=1.0, margin_s=0.2, clock=clock, sleep=clock.sleep
    )
    await limiter.acquire(max_wait_s=0.0)
    await limiter.acquire(max_wait_s=0.0)
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire(max_wait_s=0.0)
    clock.advance(1.2)
    await limiter.acquire(max_wait_s=0.0)


async def test_a_limiter_without_a_rate_only_honours_retry_after(
    clock: FakeClock,
) -> None:
    limiter = SlidingWindowLimiter(max_calls=None, clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        await limiter.acquire(max_wait_s=0.0)
    limiter.pause(30.0)
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire(max_wait_s=5.0)
    clock.advance(30.0)
    await limiter.acquire(max_wait_s=0.0)
    assert clock.slept == []


def test_retry_budget_allows_about_one_retry_in_five_requests() -> None:
    budget = RetryBudget(ratio=0.2, cap=1.0)
    assert budget.withdraw() is True
    granted = 0
    for _ in range(50):
        budget.deposit()
        granted += budget.withdraw()
    assert granted == 10


def fail(circuits: Circuits, client: str, times: int, kind: Failure) -> None:
    for _ in range(times):
        admission = circuits.admit(client)
        assert admission is not None, client
        circuits.failure(admission, kind)


def succeed(circuits: Circuits, client: str) -> None:
    admission = circuits.admit(client)
    assert admission is not None, client
    circuits.success(admission)


@pytest.mark.parametrize("kind", [Failure.CALL, Failure.SUBJECT])
def test_one_clients_failures_open_its_own_circuit_only(
    kind: Failure, clock: FakeClock
) -> None:
    circuits = Circuits(threshold=3, open_s=60.0, clock=clock)
    fail(circuits, "crafter", 3, kind)
    assert circuits.admit("crafter") is None
    assert circuits.state_of("crafter") == "open"
    assert circuits.shared.state == "closed"
    assert circuits.admit("other") is not None
    assert circuits.open_clients() == 1


def test_errors_about_one_person_never_open_the_shared_circuit(
    clock: FakeClock,
) -> None:
    circuits = Circuits(threshold=3, open_s=60.0, clock=clock)
    for client in ("a", "b", "c", "d"):
        fail(circuits, client, 2, Failure.SUBJECT)
    assert circuits.shared.state == "closed"
    assert circuits.open_clients() == 0


def test_failures_from_two_clients_open_the_shared_circuit_for_all(
    clock: FakeClock,
) -> None:
    circuits = Circuits(threshold=3, open_s=60.0, clock=clock)
    fail(circuits, "a", 2, Failure.CALL)
    assert circuits.shared.state == "closed"
    fail(circuits, "b", 1, Failure.CALL)
    assert circuits.shared.state == "open"
    assert circuits.admit("third") is None
    assert circuits.open_clients() == 0  # nobody's own circuit: the shared one cut them


def test_one_client_cannot_prime_the_shared_circuit_for_a_single_failure(
    clock: FakeClock,
) -> None:
    circuits = Circuits(threshold=5, open_s=60.0, clock=clock)
    fail(circuits, "crafter", 4, Failure.CALL)  # counts for 3 of the 5 at most
    fail(circuits, "victim", 1, Failure.CALL)
    assert circuits.shared.state == "closed"
    fail(circuits, "victim", 1, Failure.CALL)  # a second, independent failure
    assert circuits.shared.state == "open"


def test_a_success_from_anyone_resets_the_shared_count(clock: FakeClock) -> None:
    circuits = Circuits(threshold=3, open_s=60.0, clock=clock)
    fail(circuits, "a", 2, Failure.CALL)
    succeed(circuits, "c")
    fail(circuits, "b", 1, Failure.CALL)
    assert circuits.shared.state == "closed"
    fail(circuits, "b", 1, Failure.CALL)
    fail(circuits, "a", 1, Failure.CALL)
    assert circuits.shared.state == "open"


def test_failures_older_than_the_open_period_are_no_evidence(
    clock: FakeClock,
) -> None:
    circuits = Circuits(threshold=3, open_s=60.0, clock=clock)
    fail(circuits, "a", 2, Failure.CALL)
    clock.advance(60.1)  # a minute later, in the attack the review found
    fail(circuits, "b", 1, Failure.CALL)
    assert circuits.shared.state == "closed"


def test_failures_within_the_open_period_are_evidence(clock: FakeClock) -> None:
    circuits = Circuits(threshold=3, open_s=60.0, clock=clock)
    fail(circuits, "a", 2, Failure.CALL)
    clock.advance(60.0)
    fail(circuits, "b", 1, Failure.CALL)
    assert circuits.shared.state == "open"


def test_upstream_wide_failures_from_one_client_open_the_shared_circuit(
    clock: FakeClock,
) -> None:
    circuits = Circuits(threshold=3, open_s=60.0, clock=clock)
    fail(circuits, "only", 3, Failure.UPSTREAM)
    assert circuits.shared.state == "open"
    assert circuits.admit("other") is None


def test_an_own_circuit_half_opens_and_lets_one_probe_through(
    clock: FakeClock,
) -> None:
    circuits = Circuits(threshold=1, open_s=30.0, clock=clock)
    fail(circuits, "a", 1, Failure.SUBJECT)
    assert circuits.admit("a") is None
    clock.advance(30.0)
    assert circuits.state_of("a") == "half_open"
    probe = circuits.admit("a")
    assert probe is not None
    assert probe.probes == (probe.own,)
    assert circuits.admit("a") is None  # one probe at a time
    assert circuits.admit("b") is not None
    circuits.success(probe)
    assert circuits.state_of("a") == "closed"


def test_a_failed_own_probe_reopens_only_the_clients_circuit(
    clock: FakeClock,
) -> None:
    circuits = Circuits(threshold=2, open_s=30.0, clock=clock)
    fail(circuits, "a", 2, Failure.CALL)
    clock.advance(30.0)
    fail(circuits, "a", 1, Failure.CALL)  # the probe
    assert circuits.state_of("a") == "open"
    assert circuits.shared.state == "closed"


@pytest.mark.parametrize("kind", [Failure.CALL, Failure.UPSTREAM])
def test_a_failed_shared_probe_reopens_the_shared_circuit(
    kind: Failure, clock: FakeClock
) -> None:
    circuits = Circuits(threshold=1, open_s=30.0, clock=clock)
    fail(circuits, "a", 1, Failure.UPSTREAM)
    clock.advance(30.0)
    probe = circuits.admit("b")
    assert probe is not None
    assert circuits.shared in probe.probes
    assert circuits.admit("c") is None
    circuits.failure(probe, kind)
    assert circuits.shared.state == "open"
    assert circuits.shared.probing is False
    assert circuits.admit("c") is None


@pytest.mark.parametrize("level", ["own", "shared"])
def test_after_a_failed_probe_a_later_probe_is_allowed_at_both_levels(
    level: str, clock: FakeClock
) -> None:
    circuits = Circuits(threshold=1, open_s=30.0, clock=clock)
    kind = Failure.UPSTREAM if level == "shared" else Failure.SUBJECT
    fail(circuits, "a", 1, kind)
    clock.advance(30.0)
    fail(circuits, "a", 1, kind)  # the probe fails
    assert circuits.admit("a") is None
    clock.advance(30.0)
    probe = circuits.admit("a")
    assert probe is not None
    circuits.success(probe)
    assert (circuits.state_of("a"), circuits.shared.state) == ("closed", "closed")


def test_a_call_refused_by_the_shared_circuit_keeps_the_clients_probe(
    clock: FakeClock,
) -> None:
    circuits = Circuits(threshold=1, open_s=30.0, clock=clock)
    fail(circuits, "a", 1, Failure.UPSTREAM)  # opens a's own and the shared circuit
    clock.advance(30.0)
    shared_probe = circuits.admit("b")
    assert shared_probe is not None
    assert circuits.admit("a") is None  # the shared probe is b's
    assert circuits.state_of("a") == "half_open"
    circuits.success(shared_probe)
    own_probe = circuits.admit("a")
    assert own_probe is not None
    assert own_probe.probes == (own_probe.own,)


def test_probes_that_never_reached_the_upstream_or_got_a_429_let_another_try(
    clock: FakeClock,
) -> None:
    circuits = Circuits(threshold=1, open_s=30.0, clock=clock)
    fail(circuits, "a", 1, Failure.UPSTREAM)
    clock.advance(30.0)
    first = circuits.admit("b")
    assert first is not None
    assert circuits.admit("c") is None
    circuits.abandon(first)  # no slot before its deadline
    second = circuits.admit("c")
    assert second is not None
    assert circuits.admit("d") is None
    circuits.neutral(second)  # a 429
    third = circuits.admit("d")
    assert third is not None
    assert circuits.shared in third.probes


def test_an_error_about_one_person_frees_the_shared_probe(clock: FakeClock) -> None:
    circuits = Circuits(threshold=1, open_s=30.0, clock=clock)
    fail(circuits, "a", 1, Failure.UPSTREAM)
    clock.advance(30.0)
    fail(circuits, "b", 1, Failure.SUBJECT)  # the probe: no evidence either way
    assert circuits.shared.state == "half_open"
    assert circuits.admit("c") is not None


def test_abandoning_a_settled_call_does_not_free_another_probe(
    clock: FakeClock,
) -> None:
    circuits = Circuits(threshold=1, open_s=30.0, clock=clock)
    early = circuits.admit("a")
    assert early is not None
    circuits.failure(early, Failure.UPSTREAM)
    clock.advance(30.0)
    probe = circuits.admit("b")
    assert probe is not None
    circuits.abandon(early)  # the finally of a call already counted
    assert circuits.admit("c") is None


def test_own_circuits_are_bounded(clock: FakeClock) -> None:
    circuits = Circuits(threshold=1, open_s=60.0, max_clients=2, clock=clock)
    for client in ("a", "b", "c"):
        fail(circuits, client, 1, Failure.SUBJECT)
    assert circuits.open_clients() == 2
    assert circuits.state_of("a") == "closed"  # the least recently used went first


def circuit_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "citizen_graph.circuits"]


def circuit_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in circuit_records(caplog)]


def test_the_shared_circuit_logs_one_line_when_it_opens_and_one_when_it_closes(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="citizen_graph.circuits")
    circuits = Circuits(threshold=3, open_s=30.0, clock=clock, source="dgfip")
    for client in ("a", "b", "c"):  # connection refused, seen by three clients
        fail(circuits, client, 1, Failure.UPSTREAM)
    assert circuits.admit("d") is None  # failing fast: no line per refused call
    clock.advance(30.0)
    fail(circuits, "d", 1, Failure.UPSTREAM)  # a failed probe: still open, no new line
    clock.advance(30.0)
    succeed(circuits, "d")
    succeed(circuits, "d")
    assert circuit_lines(caplog) == [
        ("WARNING", "dgfip shared circuit opened for 30 s"),
        ("INFO", "dgfip shared circuit closed"),
    ]
    for record in circuit_records(caplog):
        assert (vars(record)["source"], vars(record)["circuit"]) == ("dgfip", "shared")


def test_a_clients_own_circuit_logs_its_opening_and_closing_with_the_client_id(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="citizen_graph.circuits")
    circuits = Circuits(threshold=3, open_s=30.0, clock=clock, source="api_particulier")
    fail(circuits, "21350238800019", 3, Failure.SUBJECT)
    assert circuits.admit("21350238800019") is None
    clock.advance(30.0)
    succeed(circuits, "21350238800019")
    assert circuit_lines(caplog) == [
        ("WARNING", "api_particulier client 21350238800019's circuit opened for 30 s"),
        ("INFO", "api_particulier client 21350238800019's circuit closed"),
    ]
    for record in circuit_records(caplog):
        assert vars(record)["circuit"] == "client"
        assert vars(record)["client"] == "21350238800019"
    assert circuits.shared.state == "closed"  # an error about one person: shared silent


async def test_a_callers_wait_behind_others_counts_against_its_own_bound() -> None:
    # 2 calls per 1.2 s: of six callers allowed 0.3 s each, the two first start and
    # the four queued behind them give up rather than wait past their bound.
    limiter = SlidingWindowLimiter(2, window_s=1.0, margin_s=0.2)
    outcomes = await asyncio.gather(
        *(limiter.acquire(0.3) for _ in range(6)), return_exceptions=True
    )
    assert sum(o is None for o in outcomes) == 2
    assert all(isinstance(o, RateLimitExceeded) for o in outcomes if o is not None)
