"""What every connector shares: one long-lived httpx client per upstream and the call wrapper.

The wrapper applies, in order: circuit breaker, the request's deadline, the client-side rate
limit, one budgeted retry for idempotent calls on connection errors, 502 and 503, and the one
translation of httpx exceptions into the project's errors. It reports each call to the request
journal (`calls.record`). It never logs or raises anything built from an httpx exception: those
carry the upstream URL, fiscal number included.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from citizen_graph import calls
from citizen_graph.connectors._resilience import (
    CircuitBreaker,
    RateLimitExceeded,
    RetryBudget,
    SlidingWindowLimiter,
)
from citizen_graph.errors import UpstreamUnavailable

logger = logging.getLogger("citizen_graph.upstream")

RETRYABLE_STATUSES = frozenset({502, 503})
MIN_RETRY_WINDOW_S = 0.5  # a retry with less time left than this cannot help


@dataclass(frozen=True)
class ClientConfig:
    source: str  # dgfip | api_particulier | ban
    base_url: str
    connect_timeout_s: float
    read_timeout_s: float
    max_connections: int
    rate_limit_per_s: int | None = None
    breaker_threshold: int = 5
    breaker_open_s: float = 30.0


class UpstreamClient:
    """One upstream's HTTP client with its protections; connectors call `request`."""

    def __init__(
        self,
        config: ClientConfig,
        auth: httpx.Auth | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.source = config.source
        self.breaker = CircuitBreaker(config.breaker_threshold, config.breaker_open_s)
        self._limiter = (
            SlidingWindowLimiter(config.rate_limit_per_s)
            if config.rate_limit_per_s
            else None
        )
        self._budget = RetryBudget()
        self._slots = asyncio.Semaphore(config.max_connections)
        self._exchanges = 0  # upstream exchanges finished (answered or failed)
        self._http = httpx.AsyncClient(
            base_url=config.base_url,
            auth=auth,
            timeout=httpx.Timeout(
                config.read_timeout_s, connect=config.connect_timeout_s
            ),
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_connections,
            ),
            follow_redirects=False,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

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
    ) -> httpx.Response:
        """Send one logical call (at most two attempts) and return the upstream's answer."""
        request = self._http.build_request(
            method, path, params=params, headers=headers, files=files, data=data
        )
        if calls.request_id():  # lets the upstream's logs be matched to ours
            request.headers["X-Request-ID"] = calls.request_id()
        self._budget.deposit()
        attempt = 0
        while True:
            attempt += 1
            response = await self._attempt(operation, request)
            if response is not None and response.status_code not in RETRYABLE_STATUSES:
                return response
            if not self._may_retry(method, attempt):
                if response is not None:
                    return response
                raise UpstreamUnavailable(
                    self.source, "The upstream could not be reached."
                )
            await asyncio.sleep(random.uniform(0.05, 0.2))

    def _may_retry(self, method: str, attempt: int) -> bool:
        return (
            method == "GET"
            and attempt == 1
            and calls.remaining_s(self.config.read_timeout_s) > MIN_RETRY_WINDOW_S
            and self._budget.withdraw()
        )

    async def _attempt(
        self, operation: str, request: httpx.Request
    ) -> httpx.Response | None:
        """One HTTP exchange; None on a connection error that may be retried."""
        if not self.breaker.allow():
            raise UpstreamUnavailable(
                self.source, "The upstream is temporarily disabled."
            )
        calls_before = self._exchanges
        try:
            return await self._slotted(operation, request)
        finally:
            if self._exchanges == calls_before:  # left before reaching the upstream
                self.breaker.abandon()

    async def _slotted(
        self, operation: str, request: httpx.Request
    ) -> httpx.Response | None:
        try:
            # One slot per pooled connection: a request counted by the rate limiter
            # never waits in httpx's pool afterwards, and a hanging upstream holds its
            # own slots only (bulkhead).
            async with asyncio.timeout(calls.remaining_s(self.config.read_timeout_s)):
                await self._slots.acquire()
        except TimeoutError:
            raise UpstreamUnavailable(
                self.source, "The upstream is saturated."
            ) from None
        try:
            return await self._send(operation, request)
        finally:
            self._slots.release()

    async def _send(
        self, operation: str, request: httpx.Request
    ) -> httpx.Response | None:
        await self._throttle(calls.remaining_s(self.config.read_timeout_s))
        started = time.monotonic()
        remaining = calls.remaining_s(self.config.read_timeout_s)
        if remaining <= 0:
            raise UpstreamUnavailable(
                self.source, "The upstream did not answer in time."
            )
        try:
            async with asyncio.timeout(remaining):
                response = await self._http.send(request)
        except (TimeoutError, httpx.TimeoutException):
            self._failed(operation, started, None)
            raise UpstreamUnavailable(
                self.source, "The upstream did not answer in time."
            ) from None
        except httpx.HTTPError as exc:
            self._failed(operation, started, None, type(exc).__name__)
            return None
        except UpstreamUnavailable:  # the DGFiP token could not be obtained
            self._failed(operation, started, None, "credentials")
            raise
        self._answered(operation, started, response)
        return response

    async def _throttle(self, max_wait_s: float) -> None:
        if self._limiter is None:
            return
        try:
            await self._limiter.acquire(max_wait_s)
        except RateLimitExceeded:
            raise UpstreamUnavailable(
                self.source, "The upstream's rate limit leaves no slot in time."
            ) from None

    def _answered(
        self, operation: str, started: float, response: httpx.Response
    ) -> None:
        status = response.status_code
        if status >= 500 or status == 429:
            self.breaker.failure()
        else:
            self.breaker.success()
        if status == 429 and self._limiter is not None:
            self._limiter.pause(_retry_after_s(response))
        request_id = response.headers.get(
            "x-request-id"
        ) or response.request.headers.get("x-correlation-id")
        self._journal(operation, started, status, request_id)

    def _failed(
        self, operation: str, started: float, status: int | None, kind: str = "timeout"
    ) -> None:
        self.breaker.failure()
        logger.warning(
            "upstream call failed",
            extra={"source": self.source, "operation": operation, "error": kind},
        )
        self._journal(operation, started, status, None)

    def _journal(
        self, operation: str, started: float, status: int | None, request_id: str | None
    ) -> None:
        self._exchanges += 1
        duration_ms = (time.monotonic() - started) * 1000
        calls.record(
            calls.UpstreamCall(
                self.source, operation, status, round(duration_ms, 1), False, request_id
            )
        )


def _retry_after_s(response: httpx.Response) -> float:
    try:
        return max(1.0, float(response.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


def json_body(response: httpx.Response, source: str) -> Any:
    """The decoded body, or UPSTREAM_UNAVAILABLE when the upstream sent something else."""
    try:
        return response.json()
    except ValueError:
        raise UpstreamUnavailable(
            source, "The upstream sent an unreadable answer."
        ) from None


def unexpected_status(source: str, response: httpx.Response) -> UpstreamUnavailable:
    logger.warning(
        "upstream answered an unexpected status",
        extra={"source": source, "status": response.status_code},
    )
    return UpstreamUnavailable(source)
