"""What every connector shares: one long-lived httpx client per upstream and the call wrapper.

The wrapper applies, in order: the circuits (the calling client's and the shared one,
`_resilience.Circuits`), the request's deadline, the client-side rate limit, one budgeted retry
for idempotent calls on connection errors, 502 and 503 (never on an error about one person)
and on the upstream's "identical request in flight" status (after about one call's time),
and the one translation of httpx exceptions into the project's errors. It reports each call to
the request journal (`request_scope.record`). It never logs or raises anything built from an
httpx exception: those carry the upstream URL, fiscal number included.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from citizen_graph import request_scope
from citizen_graph.connectors._resilience import (
    Admission,
    CircuitBreaker,
    Circuits,
    Failure,
    Limiter,
    LimiterFactory,
    RateLimitExceeded,
    RetryBudget,
    SlidingWindowLimiter,
)
from citizen_graph.errors import UpstreamUnavailable
from citizen_graph.settings import Settings, UpstreamSettings

logger = logging.getLogger("citizen_graph.upstream")

RETRYABLE_STATUSES = frozenset({502, 503})
# Admission's estimate of an answer's time: pessimistic (1.5 times the recent mean, plus a
# margin), from a prior (API Particulier's p50 is about 0.3 s) until answers come.
LATENCY_PRIOR_S = 0.3
LATENCY_WEIGHT = 0.2  # of each new answer in the moving average
FINISH_MARGIN_S = 0.5  # admitted calls are answered this long before the deadline
MIN_RETRY_WINDOW_S = 0.5  # a retry with less time left than this cannot help

# Tells an upstream's error about the one person asked for (a provider error for that identity)
# from an error of the upstream itself; each connector module knows its upstream's envelope.
SubjectError = Callable[[httpx.Response], bool]


def _never(response: httpx.Response) -> bool:
    return False


@dataclass(frozen=True)
class ClientConfig:
    """One upstream client's settings, as httpx and the protections take them."""

    source: str  # the upstream's registered name
    base_url: str
    connect_timeout_s: float
    read_timeout_s: float
    max_connections: int
    rate_limit_per_s: int | None = None
    breaker_threshold: int = 5
    breaker_open_s: float = 30.0

    @classmethod
    def of(cls, source: str, settings: Settings) -> ClientConfig:
        """The client of the upstream whose section of `settings` is named `source`."""
        upstream: UpstreamSettings = getattr(settings, source)
        return cls(
            source=source,
            base_url=upstream.base_url,
            connect_timeout_s=upstream.connect_timeout_s,
            read_timeout_s=upstream.read_timeout_s,
            max_connections=upstream.max_connections,
            rate_limit_per_s=upstream.rate_limit_per_s or None,
            breaker_threshold=settings.breaker.failure_threshold,
            breaker_open_s=settings.breaker.open_s,
        )

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.read_timeout_s, connect=self.connect_timeout_s)

    def limits(self) -> httpx.Limits:
        return httpx.Limits(
            max_connections=self.max_connections,
            max_keepalive_connections=self.max_connections,
        )


def aiohttp_transport(config: ClientConfig) -> httpx.AsyncBaseTransport:
    """aiohttp's connection pool behind httpx's API (httpx-aiohttp): the connectors keep
    httpx's requests, responses, auth flows and exceptions. httpcore's pool checks every
    pooled connection on each request; measured on this machine, 1.28 ms of client CPU
    per GET with httpx's own transport against 0.38 ms with this one (pool of 20, c=10).
    No cookie jar: nothing an upstream sets is ever sent on another client's call."""
    limits = config.limits()

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry or 5.0,
        )
        return aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar()
        )

    return _AiohttpTransport(limits=limits, client=session)


class _AiohttpTransport(AiohttpTransport):
    """httpx-aiohttp 0.2 maps every aiohttp connection error, a refused connection
    included, to `httpx.ConnectTimeout` (its most general entry wins); the client tells a
    timeout from a refused or dropped connection, so the cause is mapped again here."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.TransportError as error:
            cause = error.__cause__
            mapped = _network_error(cause)
            if mapped is None:
                raise
            raise mapped("the upstream connection failed") from cause


def _network_error(cause: BaseException | None) -> type[httpx.TransportError] | None:
    if isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ClientOSError):
        return httpx.ConnectError  # refused, reset, unreachable: a NetworkError
    if isinstance(cause, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError  # the answer was dropped
    if isinstance(cause, aiohttp.ServerTimeoutError | TimeoutError):
        return httpx.ReadTimeout
    return None


class CallObserver(Protocol):
    """Told of each exchange as it ends, and of each wait for a rate slot (the metrics)."""

    def upstream_call(
        self, source: str, operation: str, status: int | None, seconds: float
    ) -> None: ...

    def rate_wait(self, source: str, seconds: float) -> None: ...


class _Unobserved:
    def upstream_call(
        self, source: str, operation: str, status: int | None, seconds: float
    ) -> None:
        pass

    def rate_wait(self, source: str, seconds: float) -> None:
        pass


@dataclass(frozen=True)
class _Call:
    operation: str
    credential: str  # public id: which rate-limit bucket
    habilitation: str | None
    auth: httpx.Auth | None


class UpstreamClient:
    """One upstream's HTTP client with its protections; connectors call `request`."""

    def __init__(
        self,
        config: ClientConfig,
        auth: httpx.Auth | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        subject_error: SubjectError = _never,
        in_flight_status: int | None = None,
    ) -> None:
        """`in_flight_status`: the upstream's answer to a request identical to one still in
        flight (API Particulier's 409): asked again once that one should be done."""
        self.config = config
        self.source = config.source
        self.circuits = Circuits(
            config.breaker_threshold, config.breaker_open_s, source=config.source
        )
        # One limiter per credential (API Particulier: 20 calls/s per token; BAN: one for
        # the gateway's IP); without a configured rate it still honours Retry-After (429).
        self._limiters: dict[str, Limiter] = {}
        self._new_limiter: LimiterFactory = _local_limiter
        self._observer: CallObserver = _Unobserved()
        self._tracer: Tracer | None = None
        self._latency_s = LATENCY_PRIOR_S  # moving average of answered calls
        self._underway = 0  # calls between their rate slot and their answer
        self._reserved = 0  # calls admitted, not started (every credential)
        self._subject_error = subject_error
        self._in_flight_status = in_flight_status
        self._budget = RetryBudget()
        self._slots = asyncio.Semaphore(config.max_connections)
        self._http = httpx.AsyncClient(
            base_url=config.base_url,
            auth=auth,
            timeout=config.timeout(),
            follow_redirects=False,
            transport=transport or aiohttp_transport(config),
        )

    @property
    def breaker(self) -> CircuitBreaker:
        """The shared circuit, the one that cuts every client."""
        return self.circuits.shared

    async def aclose(self) -> None:
        await self._http.aclose()

    def capacity(self, credential: str, within_s: float) -> int:
        """How many more calls of `credential` can be answered within `within_s`: the
        credential's rate (its bucket) and the connection slots shared by all, at the
        pessimistic estimate of an answer's time; calls under way or reserved first."""
        latency = self._call_s()
        finish = within_s - FINISH_MARGIN_S
        if finish <= latency:
            return 0
        rounds = math.floor(finish / latency)
        pooled = self.config.max_connections * rounds - self._underway - self._reserved
        rate = self.limiter(credential).capacity(finish - latency)
        return max(0, pooled if rate is None else min(pooled, rate))

    def _call_s(self) -> float:
        """The pessimistic estimate of an answer's time."""
        return min(1.5 * self._latency_s + 0.1, self.config.read_timeout_s)

    def reserve(self, credential: str, calls: int) -> None:
        """Set `calls` aside for the current request (released as they start, or when
        the request ends)."""
        self._reserved += calls
        self.limiter(credential).reserve(calls)
        request_scope.reserve(
            (id(self), credential), calls, lambda left: self._release(credential, left)
        )

    def _release(self, credential: str, calls: int) -> None:
        self._reserved = max(0, self._reserved - calls)
        self.limiter(credential).release(calls)

    def observe(self, observer: CallObserver) -> None:
        """Tell `observer` of every exchange and rate wait from now on."""
        self._observer = observer

    def trace(self, tracer: Tracer) -> None:
        """A span per exchange from now on (tracing.py)."""
        self._tracer = tracer

    def share_limits(self, limiters: LimiterFactory) -> None:
        """Make every credential's rate limiter with `limiters` from now on (the shared
        ones, `shared.limits`, when several processes share a Redis); a limit without a
        rate (only Retry-After pauses) stays per process, nothing worth a round trip."""
        self._new_limiter = limiters
        self._limiters.clear()

    def limiter(self, credential: str = "") -> Limiter:
        """The rate-limit bucket of one credential (created on its first call)."""
        limiter = self._limiters.get(credential)
        if limiter is None:
            rate = self.config.rate_limit_per_s or None
            burst = max(1, rate // 4) if rate else None
            new = self._new_limiter if rate else _local_limiter
            limiter = new(credential, rate, burst)
            self._limiters[credential] = limiter
        return limiter

    async def request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        files: Any = None,
        data: Any = None,
        credential: str = "",
        habilitation: str | None = None,
        auth: httpx.Auth | None = None,
    ) -> httpx.Response:
        """Send one logical call (at most two attempts) and return the upstream's answer.

        `credential`: the public id of the credential used (its rate-limit bucket);
        `habilitation`: whose call it is, for the journal; `auth`: the OAuth flow of the
        habilitation's client (DGFiP)."""
        request = self._http.build_request(
            method, path, params=params, headers=headers, files=files, data=data
        )
        call = _Call(operation, credential, habilitation, auth)
        if request_scope.request_id():  # lets the upstream's logs be matched to ours
            request.headers["X-Request-ID"] = request_scope.request_id()
        self._budget.deposit()
        attempt = 0
        while True:
            attempt += 1
            response = await self._attempt(call, request)
            if response is not None and not self._retryable(response):
                return response
            # The identical request in flight (another replica's, with Redis lost) is
            # answered within about one call's time; anything else soon, with jitter.
            pause_s = (
                self._call_s()
                if response is not None
                and response.status_code == self._in_flight_status
                else random.uniform(0.05, 0.2)
            )
            if not self._may_retry(method, attempt, pause_s):
                if response is not None:
                    return response
                raise UpstreamUnavailable(
                    self.source, "The upstream could not be reached."
                )
            await asyncio.sleep(pause_s)

    def _retryable(self, response: httpx.Response) -> bool:
        status = response.status_code
        if status == self._in_flight_status:
            return True
        return status in RETRYABLE_STATUSES and not self._subject_error(response)

    def _may_retry(self, method: str, attempt: int, pause_s: float) -> bool:
        return (
            method == "GET"
            and attempt == 1
            and request_scope.remaining_s(self.config.read_timeout_s) - pause_s
            > MIN_RETRY_WINDOW_S
            and self._budget.withdraw()
        )

    async def _attempt(
        self, call: _Call, request: httpx.Request
    ) -> httpx.Response | None:
        """One HTTP exchange; None on a connection error that may be retried."""
        admission = self.circuits.admit(request_scope.client_id())
        if admission is None:
            raise UpstreamUnavailable(
                self.source, "The upstream is temporarily disabled."
            )
        try:
            return await self._slotted(call, request, admission)
        finally:
            self.circuits.abandon(
                admission
            )  # no-op unless it never reached the upstream

    async def _slotted(
        self, call: _Call, request: httpx.Request, admission: Admission
    ) -> httpx.Response | None:
        # The credential's rate slot first, then a connection slot: a call waiting for
        # its own token's rate holds no connection, so one busy habilitation cannot
        # starve another's calls. One slot per pooled connection: a call never waits
        # in httpx's pool, and a hanging upstream holds its own slots only (bulkhead).
        # Both waits are bounded by the request's deadline (admission let in only what
        # fits it); the read timeout bounds the exchange itself.
        limiter = self.limiter(call.credential)
        if request_scope.start_reserved((id(self), call.credential)):
            self._release(call.credential, 1)  # from reserved to under way
        self._underway += 1
        try:
            await self._throttle(
                limiter, request_scope.time_left(self.config.read_timeout_s)
            )
            await self._connection_slot()
            try:
                return await self._send(call, request, admission, limiter)
            finally:
                self._slots.release()
        finally:
            self._underway -= 1

    async def _connection_slot(self) -> None:
        try:
            async with asyncio.timeout(
                request_scope.time_left(self.config.read_timeout_s)
            ):
                await self._slots.acquire()
        except TimeoutError:
            raise UpstreamUnavailable(
                self.source, "The upstream is saturated."
            ) from None

    async def _send(
        self,
        call: _Call,
        request: httpx.Request,
        admission: Admission,
        limiter: Limiter,
    ) -> httpx.Response | None:
        if self._tracer is None:
            return await self._exchange(call, request, admission, limiter)
        attributes = {
            "citizen_graph.source": self.source,
            "citizen_graph.operation": call.operation,
            "http.request.method": request.method,
        }
        if call.habilitation:
            attributes["citizen_graph.habilitation"] = call.habilitation
        with self._tracer.start_as_current_span(
            f"{self.source} {call.operation}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,  # an exception's text may hold the URL
            set_status_on_exception=False,
        ) as span:
            try:
                response = await self._exchange(call, request, admission, limiter)
            except Exception as error:  # the project's own: its type names the failure
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                raise
            if response is None:
                span.set_status(Status(StatusCode.ERROR, "no answer"))
            else:
                span.set_attribute("http.response.status_code", response.status_code)
                if response.status_code >= 500:
                    span.set_status(Status(StatusCode.ERROR))
            return response

    async def _exchange(
        self,
        call: _Call,
        request: httpx.Request,
        admission: Admission,
        limiter: Limiter,
    ) -> httpx.Response | None:
        started = time.monotonic()
        remaining = request_scope.remaining_s(self.config.read_timeout_s)
        if remaining <= 0:
            raise UpstreamUnavailable(
                self.source, "The upstream did not answer in time."
            )
        try:
            async with asyncio.timeout(remaining):
                response = await self._http.send(request, auth=call.auth)
        except (TimeoutError, httpx.TimeoutException):
            self._failed(call, started, admission, Failure.CALL)
            raise UpstreamUnavailable(
                self.source, "The upstream did not answer in time."
            ) from None
        except httpx.NetworkError as exc:  # refused, reset: no client can choose these
            self._failed(call, started, admission, Failure.UPSTREAM, type(exc).__name__)
            return None
        except (
            httpx.HTTPError
        ) as exc:  # e.g. a dropped answer: maybe one request's doing
            self._failed(call, started, admission, Failure.CALL, type(exc).__name__)
            return None
        except UpstreamUnavailable:  # the DGFiP token could not be obtained
            self._failed(call, started, admission, Failure.UPSTREAM, "credentials")
            raise
        self._answered(call, started, response, admission, limiter)
        return response

    async def _throttle(self, limiter: Limiter, max_wait_s: float) -> None:
        started = time.monotonic()
        try:
            await limiter.acquire(max_wait_s)
        except RateLimitExceeded:
            raise UpstreamUnavailable(
                self.source, "The upstream's rate limit leaves no slot in time."
            ) from None
        finally:
            self._observer.rate_wait(self.source, time.monotonic() - started)

    def _answered(
        self,
        call: _Call,
        started: float,
        response: httpx.Response,
        admission: Admission,
        limiter: Limiter,
    ) -> None:
        status = response.status_code
        answered_s = time.monotonic() - started
        self._latency_s += LATENCY_WEIGHT * (answered_s - self._latency_s)
        if status == 429:
            # Counts for no circuit: a 429 says the gateway's shared quota (one token or
            # one IP for all clients) is spent, not that the upstream fails. Counted for
            # the shared circuit it would let one busy client cut everyone for `open_s`;
            # for one client's own, it would punish whoever was unlucky. The limiter's
            # pause already stops every call for exactly the Retry-After.
            self.circuits.neutral(admission)
            limiter.pause(_retry_after_s(response))  # this credential's bucket
        elif status >= 500:
            kind = Failure.SUBJECT if self._subject_error(response) else Failure.CALL
            self.circuits.failure(admission, kind)
        else:
            self.circuits.success(admission)
        request_id = response.headers.get(
            "x-request-id"
        ) or response.request.headers.get("x-correlation-id")
        self._journal(call, started, status, request_id)

    def _failed(
        self,
        call: _Call,
        started: float,
        admission: Admission,
        failure: Failure,
        kind: str = "timeout",
    ) -> None:
        self.circuits.failure(admission, failure)
        logger.warning(
            "upstream call failed",
            extra={"source": self.source, "operation": call.operation, "error": kind},
        )
        self._journal(call, started, None, None)

    def _journal(
        self, call: _Call, started: float, status: int | None, request_id: str | None
    ) -> None:
        duration_s = time.monotonic() - started
        self._observer.upstream_call(self.source, call.operation, status, duration_s)
        duration_ms = duration_s * 1000
        request_scope.record(
            request_scope.UpstreamCall(
                self.source,
                call.operation,
                status,
                round(duration_ms, 1),
                False,
                request_id,
                call.habilitation,
            )
        )


def _local_limiter(credential: str, rate: int | None, burst: int | None) -> Limiter:
    return SlidingWindowLimiter(rate, burst=burst)


def _retry_after_s(response: httpx.Response) -> float:
    try:
        return max(1.0, float(response.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


UNREADABLE_ANSWER = "The upstream sent an unreadable answer."


def unreadable_answer(source: str) -> UpstreamUnavailable:
    """The error for a body that is not JSON or not in the upstream's documented shape."""
    return UpstreamUnavailable(source, UNREADABLE_ANSWER)


def json_body(response: httpx.Response, source: str) -> Any:
    """The decoded body, or UPSTREAM_UNAVAILABLE when the upstream sent something else."""
    try:
        return response.json()
    except ValueError:
        raise unreadable_answer(source) from None


def unexpected_status(source: str, response: httpx.Response) -> UpstreamUnavailable:
    logger.warning(
        "upstream answered an unexpected status",
        extra={"source": source, "status": response.status_code},
    )
    return UpstreamUnavailable(source)
