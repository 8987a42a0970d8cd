"""The cross-request cache under the loaders: bounded, a TTL per upstream operation.

Operations, their TTLs and whether their keys include the caller are the upstreams'
declarations (`connectors.UPSTREAMS`). Keys are the upstream request (operation + its
parameters, recipient included), never the caller's role: the authorization decision is
taken before anything reaches this layer. Values are results, not coroutines
(reliability.md §0.5). Absence (NOT_FOUND) is cached briefly;
failures are not cached. Identical calls in flight are coalesced: one upstream request serves
every waiter (API Particulier answers 409 to a duplicate in flight).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

from cachetools import TTLCache

from citizen_graph import connectors, request_scope
from citizen_graph.connectors import Operation
from citizen_graph.errors import NotFound, UpstreamUnavailable
from citizen_graph.settings import CacheSettings

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class UpstreamCache:
    def __init__(
        self, settings: CacheSettings, operations: Iterable[Operation] | None = None
    ) -> None:
        """`operations`: the registered upstreams' (`connectors.operations()`)."""
        declared = connectors.operations() if operations is None else operations
        self._operations = {op.name: op for op in declared}
        self._values: dict[str, TTLCache[Hashable, Any]] = {
            op.name: TTLCache(settings.max_entries, op.ttl_s(settings))
            for op in self._operations.values()
        }
        # Absence (NOT_FOUND, or None: the BAN found no match) is kept briefly.
        self._absent: TTLCache[tuple[str, Hashable], NotFound | None] = TTLCache(
            settings.max_entries, settings.not_found_ttl_s
        )
        self._inflight: dict[tuple[str, Hashable], asyncio.Future[Any]] = {}

    def per_caller(self, operation: str) -> bool:
        """Whether the operation's answers depend on who asks (its key includes them)."""
        return self._operations[operation].per_caller

    def clear(self) -> None:
        for values in self._values.values():
            values.clear()
        self._absent.clear()

    async def get(
        self, operation: str, key: Hashable, fetch: Callable[[], Awaitable[T]]
    ) -> T:
        """The cached value, the in-flight call's value, or a new call's value."""
        found, value = self._lookup(operation, key)
        if found:
            hit: T = self._hit(operation, value)
            return hit
        inflight = self._inflight.get((operation, key))
        if inflight is None:
            inflight = self._start(operation, key, fetch)
        else:
            self._journal_hit(operation)
        result: T = await self._wait(operation, inflight)
        return result

    async def get_many(
        self,
        operation: str,
        keys: Sequence[K],
        fetch_many: Callable[[list[K]], Awaitable[Sequence[Any]]],
    ) -> list[Any]:
        """Like `get` for many keys, with one `fetch_many` call for all the misses."""
        results: dict[K, Any] = {}
        misses: list[K] = []
        waiting: list[K] = []
        for key in dict.fromkeys(keys):
            found, value = self._lookup(operation, key)
            if found:
                results[key] = self._hit(operation, value)
            elif (operation, key) in self._inflight:  # another request is fetching it
                self._journal_hit(operation)
                waiting.append(key)
            else:
                misses.append(key)
        for key in waiting:
            results[key] = await self._wait(operation, self._inflight[(operation, key)])
        if misses:
            batch = asyncio.ensure_future(fetch_many(misses))
            for index, key in enumerate(misses):
                self._start(operation, key, _pick(batch, index))
            fetched = await asyncio.shield(batch)
            results.update(zip(misses, fetched, strict=True))
        return [results[key] for key in keys]

    async def _wait(self, operation: str, shared: asyncio.Future[Any]) -> Any:
        """A shared call, awaited within this request's own deadline (the call goes on)."""
        scope = request_scope.current_scope()
        try:
            async with asyncio.timeout(scope.remaining_s() if scope else None):
                return await asyncio.shield(shared)
        except TimeoutError:
            source = self._operations[operation].source
            raise UpstreamUnavailable(
                source, "The upstream did not answer in time."
            ) from None

    def _lookup(self, operation: str, key: Hashable) -> tuple[bool, Any]:
        if (operation, key) in self._absent:
            return True, self._absent[(operation, key)]
        values = self._values[operation]
        if key in values:
            return True, values[key]
        return False, None

    def _hit(self, operation: str, value: Any) -> Any:
        self._journal_hit(operation)
        if isinstance(value, NotFound):
            raise value
        return value

    def _journal_hit(self, operation: str) -> None:
        source = self._operations[operation].source
        request_scope.record(
            request_scope.UpstreamCall(source, operation, None, 0.0, cached=True)
        )

    def _start(
        self, operation: str, key: Hashable, fetch: Callable[[], Awaitable[Any]]
    ) -> asyncio.Future[Any]:
        # A task of its own: a caller that goes away must not cancel the other waiters.
        future = asyncio.ensure_future(fetch())
        self._inflight[(operation, key)] = future
        future.add_done_callback(lambda done: self._settle(operation, key, done))
        return future

    def _settle(
        self, operation: str, key: Hashable, future: asyncio.Future[Any]
    ) -> None:
        self._inflight.pop((operation, key), None)
        if future.cancelled():
            return
        error = future.exception()
        if error is None and future.result() is None:
            self._absent[(operation, key)] = None
        elif error is None:
            self._values[operation][key] = future.result()
        elif isinstance(error, NotFound):
            self._absent[(operation, key)] = error


def _pick(
    batch: asyncio.Future[Sequence[Any]], index: int
) -> Callable[[], Awaitable[Any]]:
    async def item() -> Any:
        return (await asyncio.shield(batch))[index]

    return item
