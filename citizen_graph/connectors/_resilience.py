"""Client-side protections every upstream gets: circuits, rate limiter, retry budget.

No third-party library here on purpose: each is a few lines with asyncio, and the numbers come
from reliability.md §3 (breaker 5 failures / 30 s, ≤ 1 retry within a 20 % budget).

Circuits have two levels, so that one client cannot cut an upstream for the others:
- each calling client has its own circuit: `threshold` failures of its calls in a row (timeouts,
  5xx, an upstream's error about one person) open it for `open_s`; only its calls fail fast;
- the shared circuit cuts every client, and opens only on evidence that the upstream itself
  fails: `threshold` failures in a row within `open_s` (a success from anyone resets) from at
  least two clients, each counting for at most half of them, rounded up (so one client cannot
  prime it),
  or `threshold` upstream-wide failures (connection refused or reset, the gateway's credentials
  refused), which no client can choose. An error about one person never counts there.
- a 429 counts nowhere (see `UpstreamClient._answered`).
Both levels half-open after `open_s` and let one probe through. Each logs its transitions,
not its failures: one WARNING line when it opens, one INFO line when it closes again (a
failed probe keeps it open: no new line).

Each takes its clock (and the limiter its sleep) as an argument, so tests move time instead
of waiting for it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

MAX_CLIENTS = 1024  # own circuits kept per upstream; the least recently used goes first

logger = logging.getLogger("citizen_graph.circuits")

Clock = Callable[[], float]  # seconds, monotonic
Sleep = Callable[[float], Awaitable[None]]


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; one probe is let through after `open_s`.

    `source` names the upstream in the log lines of its transitions, `client` the calling
    client (a public organisation id) whose own circuit it is; None: the shared circuit.
    """

    def __init__(
        self,
        threshold: int,
        open_s: float,
        clock: Clock = time.monotonic,
        source: str = "",
        client: str | None = None,
    ) -> None:
        self._threshold = threshold
        self._open_s = open_s
        self._clock = clock
        self._source = source
        self._client = client
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._open_s:
            return "half_open"
        return "open"

    @property
    def probing(self) -> bool:
        """A probe is in flight: true right after `allow()` let the probe through."""
        return self._probing

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def abandon(self) -> None:
        """A probe that never reached the upstream (no slot, no time): let another try."""
        self._probing = False

    def success(self) -> None:
        if self._opened_at is not None:
            self._log(logging.INFO, "closed")
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failure(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            self.trip()

    def trip(self) -> None:
        """Open now, whatever the count (the shared level decides on its own evidence)."""
        if self._opened_at is None:
            self._log(logging.WARNING, f"opened for {self._open_s:g} s")
        self._failures = 0
        self._opened_at = self._clock()
        self._probing = False

    def _log(self, level: int, change: str) -> None:
        extra = {"source": self._source, "circuit": "shared"}
        whose = "shared"
        if self._client is not None:
            extra |= {"circuit": "client", "client": self._client}
            whose = f"client {self._client}'s"
        logger.log(level, "%s %s circuit %s", self._source, whose, change, extra=extra)


class Failure(enum.Enum):
    """What a failed call says about the upstream."""

    CALL = "call"  # a timeout, a 5xx: a client may have chosen it (a hanging identity)
    SUBJECT = (
        "subject"  # the upstream's well-formed error about the one person asked for
    )
    UPSTREAM = (
        "upstream"  # connection refused or reset, credentials refused: nobody's choice
    )


@dataclass(slots=True)
class Admission:
    """One call let through; settled once its outcome (or its abandonment) is reported."""

    client: str
    own: CircuitBreaker
    probes: tuple[CircuitBreaker, ...]  # the half-open circuits this call probes
    settled: bool = False


class Circuits:
    """One upstream's shared circuit and one circuit per calling client (module docstring)."""

    def __init__(
        self,
        threshold: int,
        open_s: float,
        max_clients: int = MAX_CLIENTS,
        clock: Clock = time.monotonic,
        source: str = "",
    ) -> None:
        self._threshold = threshold
        self._open_s = open_s
        self._max_clients = max_clients
        self._clock = clock
        self._source = source  # the upstream's name, for the circuits' log lines
        self.shared = CircuitBreaker(threshold, open_s, clock, source)
        self._own: OrderedDict[str, CircuitBreaker] = OrderedDict()
        # The shared level's failures in a row: by client, and how many were upstream-wide.
        self._streak: dict[str, int] = {}
        self._upstream_failures = 0
        self._streak_started = 0.0
        self._cap = math.ceil(
            threshold / 2
        )  # what one client may count for in a streak

    def state_of(self, client: str) -> str:
        breaker = self._own.get(client)
        return "closed" if breaker is None else breaker.state

    def open_clients(self) -> int:
        """Clients whose own circuit is open or half-open."""
        return sum(breaker.state != "closed" for breaker in self._own.values())

    def admit(self, client: str) -> Admission | None:
        """Let a call through, or None when the client's or the shared circuit is open."""
        own = self._own_circuit(client)
        probes: list[CircuitBreaker] = []
        for breaker in (own, self.shared):
            if not breaker.allow():
                for probe in probes:
                    probe.abandon()
                return None
            if breaker.probing:
                probes.append(breaker)
        return Admission(client, own, tuple(probes))

    def success(self, admission: Admission) -> None:
        admission.settled = True
        admission.own.success()
        self.shared.success()
        self._reset_streak()

    def failure(self, admission: Admission, kind: Failure) -> None:
        admission.settled = True
        admission.own.failure()
        if kind is Failure.SUBJECT:  # the upstream answered: no evidence either way
            if self.shared in admission.probes:
                self.shared.abandon()
        elif self.shared in admission.probes:
            self.shared.trip()
            self._reset_streak()
        elif self.shared.state == "closed":
            self._count(admission.client, kind)

    def neutral(self, admission: Admission) -> None:
        """An answer that counts for no circuit (429): free the probes it held."""
        admission.settled = True
        for probe in admission.probes:
            probe.abandon()

    def abandon(self, admission: Admission) -> None:
        """The call never reached the upstream; a no-op once it was settled."""
        if not admission.settled:
            self.neutral(admission)

    def _count(self, client: str, kind: Failure) -> None:
        now = self._clock()
        if self._streak and now - self._streak_started > self._open_s:
            self._reset_streak()  # old failures are no evidence of a failing upstream now
        if not self._streak:
            self._streak_started = now
        self._streak[client] = self._streak.get(client, 0) + 1
        self._upstream_failures += kind is Failure.UPSTREAM
        counted = sum(min(n, self._cap) for n in self._streak.values())
        across_clients = len(self._streak) >= 2 and counted >= self._threshold
        if across_clients or self._upstream_failures >= self._threshold:
            self.shared.trip()
            self._reset_streak()

    def _reset_streak(self) -> None:
        self._streak.clear()
        self._upstream_failures = 0

    def _own_circuit(self, client: str) -> CircuitBreaker:
        breaker = self._own.get(client)
        if breaker is None:
            breaker = self._own[client] = CircuitBreaker(
                self._threshold, self._open_s, self._clock, self._source, client
            )
            if len(self._own) > self._max_clients:
                self._own.popitem(last=False)
        else:
            self._own.move_to_end(client)
        return breaker


class Limiter(Protocol):
    """One credential's rate limit as the upstream client uses it: `SlidingWindowLimiter`
    in one process, `shared.limits.SharedWindow` across processes."""

    def reserve(self, calls: int) -> None: ...

    def release(self, calls: int) -> None: ...

    def capacity(self, within_s: float) -> int | None: ...

    def pause(self, seconds: float) -> None: ...

    async def acquire(self, max_wait_s: float) -> None: ...


# Makes a credential's limiter: (credential's public id, calls per second or None, burst).
LimiterFactory = Callable[[str, int | None, int | None], Limiter]


class RateLimitExceeded(Exception):
    """Waiting for a slot would overrun the caller's deadline."""


@asynccontextmanager
async def queued(lock: asyncio.Lock, max_wait_s: float) -> AsyncIterator[None]:
    """Hold `lock`, the limiter's queue, waited for at most `max_wait_s`, or
    RateLimitExceeded: a call whose request has run out of time gives up rather than take
    a slot it cannot use."""
    try:
        async with asyncio.timeout(max_wait_s):
            await lock.acquire()
    except TimeoutError:
        raise RateLimitExceeded from None
    try:
        yield
    finally:
        lock.release()


class SlidingWindowLimiter:
    """At most `max_calls` starts in any rolling window (plus a margin for network skew).

    A token bucket would allow a burst of `max_calls` on top of the refill and break an
    upstream that counts a rolling window, so the limiter keeps the send times instead.
    `max_calls=None` only honours Retry-After pauses.
    """

    # margin 0.2 s: a send delayed after its slot was counted (a busy event loop) must not
    # make the upstream count 21 in its second; ignoring its 429s risks a 12 h ban.
    def __init__(
        self,
        max_calls: int | None,
        window_s: float = 1.0,
        margin_s: float = 0.2,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        burst: int | None = None,
    ) -> None:
        self._max_calls = max_calls
        # At most `burst` starts in the matching share of the window: an upstream that
        # answers a burst one request after the other counts the last ones late, and the
        # next window's first call would then make it count one too many.
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._span = window_s + margin_s
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self._waiting = 0  # calls queued for a slot
        self._reserved = 0  # calls admitted (auth/admission.py) that have not started

    def reserve(self, calls: int) -> None:
        self._reserved += calls

    def release(self, calls: int) -> None:
        self._reserved = max(0, self._reserved - calls)

    def capacity(self, within_s: float) -> int | None:
        """How many more calls could start within `within_s` from now, the queued and the
        reserved ones served first; None without a rate (only pauses)."""
        if self._max_calls is None:
            return None
        now = self._clock()
        recent = sum(1 for sent in self._sent if sent > now - self._span)
        return window_capacity(
            self._max_calls,
            self._burst,
            self._span,
            recent,
            self._paused_until - now,
            within_s,
            self._waiting + self._reserved,
        )

    def pause(self, seconds: float) -> None:
        """Honour an upstream's Retry-After: no call at all before it has passed."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def count_start(self) -> None:
        """A start let through by another window (the shared one), counted here too: this
        window, falling back for it, does not forget the calls just made."""
        if self._max_calls is None:
            return
        now = self._clock()
        while self._sent and self._sent[0] <= now - self._span:
            self._sent.popleft()
        self._sent.append(now)

    async def acquire(self, max_wait_s: float) -> None:
        """A slot within `max_wait_s`, the wait behind the callers queued first
        included, or RateLimitExceeded."""
        deadline = self._clock() + max_wait_s
        self._waiting += 1
        try:
            async with queued(self._lock, max_wait_s):
                await self._slot(deadline)
        finally:
            self._waiting -= 1

    async def _slot(self, deadline: float) -> None:
        wait = self._wait_s(self._clock())
        if wait > 0:
            if self._clock() + wait > deadline:
                raise RateLimitExceeded
            await self._sleep(wait)
        now = self._clock()
        if self._max_calls is None:
            return
        while self._sent and self._sent[0] <= now - self._span:
            self._sent.popleft()
        self._sent.append(now)

    def _wait_s(self, now: float) -> float:
        wait = self._paused_until - now
        if self._max_calls is not None and len(self._sent) >= self._max_calls:
            wait = max(wait, self._sent[-self._max_calls] + self._span - now)
        if self._burst and self._max_calls and len(self._sent) >= self._burst:
            share = self._span * self._burst / self._max_calls
            wait = max(wait, self._sent[-self._burst] + share - now)
        return max(wait, 0.0)


def window_capacity(
    max_calls: int,
    burst: int | None,
    span_s: float,
    recent: int,
    paused_s: float,
    within_s: float,
    queued: int,
) -> int:
    """Calls that can start within `within_s` in a rolling window of `max_calls` per
    `span_s` (at most `burst` at once) with `recent` calls in it, after a pause and the
    `queued` calls (waiting or reserved) served first."""
    paused = max(0.0, paused_s)
    if paused and paused >= within_s:
        return 0
    usable = within_s - paused
    at_once = max(0, (burst or max_calls) - recent)
    sustained = math.floor(usable * max_calls / span_s)
    return max(0, at_once + sustained - queued)


class RetryBudget:
    """Each request earns `ratio` of a retry; a retry spends one (SRE book: ≤ 10–20 %)."""

    def __init__(self, ratio: float = 0.2, cap: float = 10.0) -> None:
        self._ratio = ratio
        self._cap = cap
        self._balance = cap

    def deposit(self) -> None:
        self._balance = min(self._cap, self._balance + self._ratio)

    def withdraw(self) -> bool:
        if self._balance < 1.0:
            return False
        self._balance -= 1.0
        return True
