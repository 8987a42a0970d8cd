"""What the simulated upstreams share at run time: statistics, injected faults and latency."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from citizen_graph.sandbox.faults import Fault
from citizen_graph.sandbox.latency import LatencyProfile
from citizen_graph.sandbox.stats import Stats, UpstreamStats

Handler = Callable[[Request], Awaitable[Response]]
# Answers `status` in the upstream's own error format (with its usual headers).
Failure = Callable[[Request, int], Response]
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_STATS = "sandbox_upstream_stats"  # request.state: the counters this call started on


class Runtime:
    """Every upstream route is built by `Runtime.route`: the wrapper counts the call under its
    template, answers injected errors and outages in that upstream's own format, and the handler
    calls `work()` where the real service would spend its time (so latency holds in-flight locks)
    and `authenticated()` once it has accepted the caller's credential.
    """

    def __init__(self, latency: LatencyProfile, upstreams: Sequence[str]) -> None:
        self.latency = latency
        self.stats = Stats(upstreams)
        self.faults: dict[str, Fault] = {}
        # Unseeded on purpose: delays and injected errors need not repeat; the data do.
        self._rng = random.Random()
        self._on_reset: list[Callable[[], None]] = []

    def on_reset(self, callback: Callable[[], None]) -> None:
        """Run `callback` (e.g. clear rate-limit windows) when the statistics are reset."""
        self._on_reset.append(callback)

    def reset(self) -> None:
        self.stats.reset()
        for callback in self._on_reset:
            callback()

    def route(
        self,
        upstream: str,
        method: str,
        template: str,
        handler: Handler,
        failure: Failure,
        *,
        outage_only: bool = False,
        label: str | None = None,
    ) -> Route:
        """A route of `upstream`, counted as `METHOD label` (label: the template).

        `outage_only`: a token endpoint, spared by injected latency and errors.
        """
        methods = ALL_METHODS if method == "*" else [method]
        label = label or template
        key = f"{method} {label}"

        async def endpoint(request: Request) -> Response:
            stats = self.stats[upstream]
            stats.start(key if method != "*" else f"{request.method} {label}")
            setattr(request.state, _STATS, stats)
            status = None
            try:
                response = await self._answer(
                    upstream, request, handler, failure, outage_only
                )
                status = response.status_code
            finally:
                stats.finish(status)
            return response

        return Route(template, endpoint, methods=methods)

    async def _answer(
        self,
        upstream: str,
        request: Request,
        handler: Handler,
        failure: Failure,
        outage_only: bool,
    ) -> Response:
        fault = self.faults.get(upstream)
        if fault is None:
            return await handler(request)
        failing = fault.outage or (
            not outage_only and self._rng.random() < fault.error_rate
        )
        if failing:
            if not outage_only:
                await asyncio.sleep(fault.latency_ms / 1000)
            return failure(request, fault.status)
        return await handler(request)

    async def work(self, upstream: str, *, rows: int = 0, faults: bool = True) -> None:
        """Wait as long as `upstream` takes: the latency profile plus any injected latency."""
        delay = self.latency.draw(upstream, self._rng, rows)
        fault = self.faults.get(upstream)
        if faults and fault is not None:
            delay += fault.latency_ms / 1000
        if delay > 0:
            await asyncio.sleep(delay)

    def authenticated(self, request: Request, credential: str) -> None:
        """Count this call under `credential`, a public id (a token's `jti`, an OAuth
        `client_id`): called once the upstream has accepted it, so that calls with a bad or
        absent credential count under none."""
        stats: UpstreamStats = getattr(request.state, _STATS)
        stats.authenticated(credential)

    def times_out(self, upstream: str) -> bool:
        """Whether this call to `upstream`'s provider falls in the profile's timeout tail."""
        return self._rng.random() < self.latency.of(upstream).timeout_rate

    def not_found(self, upstream: str, prefix: str, failure: Failure) -> Route:
        """Every other path under `prefix`: counted, then 404 in the upstream's format."""

        async def handler(request: Request) -> Response:
            return failure(request, 404)

        template, label = prefix + "/{path:path}", prefix + "/{path}"
        return self.route(upstream, "*", template, handler, failure, label=label)
