"""The scope of one gateway request as the layers below the resolvers see it.

A context variable carries the request's deadline and its journal of upstream calls, so that
connectors can respect the deadline and report each call (for counts, logs and the audit)
without knowing anything about GraphQL, callers or roles.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One upstream operation as a request saw it (never a body, never a key)."""

    source: str  # dgfip | api_particulier | ban
    operation: str  # e.g. "tax_history", "geocode_batch"
    status: int | None  # HTTP status, None when no answer (timeout, connection error)
    duration_ms: float
    cached: bool
    upstream_request_id: str | None = None
    habilitation: str | None = None  # whose credential made the call (its public id)


@dataclass
class Reservation:
    remaining: int
    release: Callable[[int], None]


@dataclass
class RequestScope:
    deadline: float  # monotonic time after which no upstream call may run
    calls: list[UpstreamCall] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    client: str = (
        ""  # the calling organisation (SIRET): per-client circuits, never a role
    )
    # The request has its audit record (access or refusal): nothing records it twice.
    audited: bool = False
    # Upstream calls admission set aside for it, per bucket: released as they start, and
    # what is left when the request ends (cache hits, failures).
    reservations: dict[Hashable, Reservation] = field(default_factory=dict)

    def remaining_s(self) -> float:
        return self.deadline - time.monotonic()

    def elapsed_ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 1)


_current: contextvars.ContextVar[RequestScope | None] = contextvars.ContextVar(
    "citizen_graph_request_scope", default=None
)
# The request's X-Request-Id from the edge on, before its scope opens (health routes have
# none): every log line of the request carries it (telemetry.RequestIdFilter), its audit
# record and its upstream calls too.
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "citizen_graph_request_id", default=""
)


@contextmanager
def open_scope(deadline_s: float, client: str = "") -> Iterator[RequestScope]:
    """Open the scope of one request; tasks spawned inside inherit it."""
    scope = RequestScope(deadline=time.monotonic() + deadline_s, client=client)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)
        for reservation in scope.reservations.values():
            if reservation.remaining:
                reservation.release(reservation.remaining)


@contextmanager
def bound_request_id(request_id: str) -> Iterator[None]:
    """The request's id for everything it runs, from the edge on."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def current_scope() -> RequestScope | None:
    return _current.get()


def record(call: UpstreamCall) -> None:
    scope = _current.get()
    if scope is not None:
        scope.calls.append(call)


def request_id() -> str:
    """The request's X-Request-Id ("" outside a request)."""
    return _request_id.get()


def client_id() -> str:
    """The calling client's id ("" outside a request): whose circuit a failure counts for."""
    scope = _current.get()
    return scope.client if scope is not None else ""


def remaining_s(default: float) -> float:
    """Seconds left before the request's deadline, capped by `default`."""
    scope = _current.get()
    return default if scope is None else min(default, scope.remaining_s())


def time_left(default: float) -> float:
    """Seconds left before the request's deadline (`default` outside a request): how long
    a call may queue for a connection or a rate slot."""
    scope = _current.get()
    return default if scope is None else scope.remaining_s()


def reserve(bucket: Hashable, calls: int, release: Callable[[int], None]) -> None:
    """Set `calls` aside in `bucket` for this request; `release` gives back what it did
    not start. Outside a request, given back at once."""
    scope = _current.get()
    if scope is None:
        release(calls)
        return
    held = scope.reservations.get(bucket)
    if held is None:
        scope.reservations[bucket] = Reservation(calls, release)
    else:
        held.remaining += calls


def start_reserved(bucket: Hashable) -> bool:
    """A call of this request starts in `bucket`: True when it used one of its
    reserved calls (which the caller then releases from the bucket)."""
    scope = _current.get()
    held = scope.reservations.get(bucket) if scope is not None else None
    if held is None or held.remaining <= 0:
        return False
    held.remaining -= 1
    return True
