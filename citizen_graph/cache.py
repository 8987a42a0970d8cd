"""The cross-request cache under the loaders: bounded, a TTL per upstream operation.

Operations, their TTLs and whether their keys include the caller are the upstreams'
declarations (`connectors.UPSTREAMS`). Keys are the upstream request (operation + its
parameters, recipient included), never the caller's role: the authorization decision is
taken before anything reaches this layer. Values are results, not coroutines
(reliability.md §0.5). Absence (NOT_FOUND) is cached briefly;
failures are not cached. Identical calls in flight are coalesced: one upstream request serves
every waiter (API Particulier answers 409 to a duplicate in flight).

With a shared tier (`shared.cache.SharedCache`, `[redis] url`), what this process misses is
looked up in Redis and claimed there before the call, so that across every process one makes
it; this process's tier stays in front (a hit costs no round trip) and takes over alone when
Redis is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

from cachetools import TTLCache

from citizen_graph import connectors, request_scope
from citizen_graph.connectors import Operation
from citizen_graph.errors import NotFound, UpstreamUnavailable
from citizen_graph.settings import CacheSettings
from citizen_graph.shared.cache import Claim, SharedCache
from citizen_graph.shared.state import SharedUnavailable

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
Claims = asyncio.Future[list[Claim]]  # the shared tier's lookup of a batch of keys


class UpstreamCache:
    def __init__(
        self,
        settings: CacheSettings,
        operations: Iterable[Operation] | None = None,
        shared: SharedCache | None = None,
        on_lookup: Callable[[str, str], None] = lambda operation, result: None,
    ) -> None:
        """`operations`: the registered upstreams' (`connectors.operations()`);
        `shared`: the tier shared between processes, if any; `on_lookup`: told each
        lookup's operation and result (hit, coalesced, shared, miss)."""
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
        self._shared = shared
        self._on_lookup = on_lookup

    def per_caller(self, operation: str) -> bool:
        """Whether the operation's answers depend on who asks (its key includes them)."""
        return self._operations[operation].per_caller

    def clear(self) -> None:
        for values in self._values.values():
            values.clear()
        self._absent.clear()

    async def get_each(
        self,
        operation: str,
        keys: Sequence[K],
        fetch: Callable[[K], Awaitable[T]],
    ) -> list[T | BaseException]:
        """`get` for each key (one call per key when fetched), with one round trip to
        the shared tier for all of this process's misses; failures are returned."""
        misses = [
            key
            for key in dict.fromkeys(keys)
            if not self._lookup(operation, key)[0]
            and (operation, key) not in self._inflight
        ]
        claims = self._claim(operation, misses)
        index = {key: i for i, key in enumerate(misses)}
        return await asyncio.gather(
            *(
                self.get(operation, key, partial(fetch, key), (claims, index.get(key)))
                for key in keys
            ),
            return_exceptions=True,
        )

    async def get(
        self,
        operation: str,
        key: Hashable,
        fetch: Callable[[], Awaitable[T]],
        claimed: tuple[Claims | None, int | None] = (None, None),
    ) -> T:
        """The cached value, the in-flight call's value, or a new call's value.
        `claimed`: the shared tier's batch lookup this key is part of (`get_each`)."""
        found, value = self._lookup(operation, key)
        if found:
            hit: T = self._hit(operation, value)
            return hit
        inflight = self._inflight.get((operation, key))
        if inflight is None:
            claims, index = claimed
            if claims is None or index is None:
                claims, index = self._claim(operation, [key]), 0
            if claims is not None:
                fetch = partial(
                    self._through_shared, operation, key, fetch, claims, index
                )
            inflight = self._start(operation, key, fetch, shared=claims is not None)
        else:
            self._journal_hit(operation, "coalesced")
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
                self._journal_hit(operation, "coalesced")
                waiting.append(key)
            else:
                misses.append(key)
        for key in waiting:
            results[key] = await self._wait(operation, self._inflight[(operation, key)])
        if misses:
            shared = self._shared is not None
            if shared:
                fetch_many = partial(self._through_shared_many, operation, fetch_many)
            batch = asyncio.ensure_future(fetch_many(misses))
            for index, key in enumerate(misses):
                self._start(operation, key, _pick(batch, index), shared)
            fetched = await asyncio.shield(batch)
            results.update(zip(misses, fetched, strict=True))
        return [results[key] for key in keys]

    def _claim(self, operation: str, keys: list[K]) -> Claims | None:
        """The shared tier's lookup of `keys`, under way (None: no shared tier now)."""
        if self._shared is None or not self._shared.available or not keys:
            return None
        claims = asyncio.ensure_future(self._shared.claim(operation, keys))
        claims.add_done_callback(
            _retrieved
        )  # each key's task reads it, or none needs to
        return claims

    async def _through_shared(
        self,
        operation: str,
        key: Hashable,
        fetch: Callable[[], Awaitable[T]],
        claims: Claims,
        index: int,
    ) -> T:
        """A miss of this process: another process's answer, or this one's call."""
        assert self._shared is not None
        try:
            claim = (await asyncio.shield(claims))[index]
            if claim.found is None and not claim.mine:
                claim = await self._shared.wait(operation, key, self._deadline())
        except SharedUnavailable:
            self._on_lookup(operation, "miss")
            return await fetch()
        if claim.found is not None:
            found: T = self._hit(operation, claim.found.value, "shared")
            return found
        self._on_lookup(operation, "miss")
        try:
            value = await fetch()
        except Exception as error:
            await self._settle_shared(operation, [(key, error)])
            raise
        await self._settle_shared(operation, [(key, value)])
        return value

    async def _through_shared_many(
        self,
        operation: str,
        fetch_many: Callable[[list[K]], Awaitable[Sequence[Any]]],
        keys: list[K],
    ) -> list[Any]:
        """Misses of this process: other processes' answers, one call for the rest."""
        assert self._shared is not None
        try:
            if not self._shared.available:
                raise SharedUnavailable
            claims = await self._shared.claim(operation, keys)
        except SharedUnavailable:
            for _ in keys:
                self._on_lookup(operation, "miss")
            return list(await fetch_many(keys))
        results: dict[K, Any] = {}
        theirs: list[K] = []
        for key, claim in zip(keys, claims, strict=True):
            if claim.found is not None:
                results[key] = self._hit(operation, claim.found.value, "shared")
            elif not claim.mine:
                theirs.append(key)
        mine = [k for k, c in zip(keys, claims, strict=True) if c.mine]
        for key in theirs:
            claim = await self._wait_shared(operation, key)
            if claim.found is not None:
                results[key] = self._hit(operation, claim.found.value, "shared")
            else:
                mine.append(key)  # its holder went away: this process's turn
        if mine:
            for _ in mine:
                self._on_lookup(operation, "miss")
            try:
                fetched = list(await fetch_many(mine))
            except Exception as error:
                await self._settle_shared(operation, [(k, error) for k in mine])
                raise
            await self._settle_shared(operation, list(zip(mine, fetched, strict=True)))
            results.update(zip(mine, fetched, strict=True))
        return [results[key] for key in keys]

    async def _wait_shared(self, operation: str, key: Hashable) -> Claim:
        assert self._shared is not None
        try:
            return await self._shared.wait(operation, key, self._deadline())
        except SharedUnavailable:
            return Claim(None, True)

    async def _settle_shared(
        self, operation: str, outcomes: list[tuple[Hashable, Any]]
    ) -> None:
        assert self._shared is not None
        # Redis lost: the claims expire by themselves; this process keeps its own tier.
        with contextlib.suppress(SharedUnavailable):
            await self._shared.settle(operation, outcomes)

    def _deadline(self) -> float:
        scope = request_scope.current_scope()
        return time.monotonic() + (scope.remaining_s() if scope else 10.0)

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

    def _hit(self, operation: str, value: Any, result: str = "hit") -> Any:
        self._journal_hit(operation, result)
        if isinstance(value, NotFound):
            raise value
        return value

    def _journal_hit(self, operation: str, result: str) -> None:
        """`result`: hit (this process's cache), coalesced (a call in flight here) or
        shared (from Redis), as the metrics count it."""
        self._on_lookup(operation, result)
        source = self._operations[operation].source
        request_scope.record(
            request_scope.UpstreamCall(source, operation, None, 0.0, cached=True)
        )

    def _start(
        self,
        operation: str,
        key: Hashable,
        fetch: Callable[[], Awaitable[Any]],
        shared: bool,
    ) -> asyncio.Future[Any]:
        """`shared`: `fetch` goes through the shared tier, which counts the miss once the
        call is this process's (another's answer is a shared hit)."""
        # A task of its own: a caller that goes away must not cancel the other waiters.
        if not shared:
            self._on_lookup(operation, "miss")
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


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _pick(
    batch: asyncio.Future[Sequence[Any]], index: int
) -> Callable[[], Awaitable[Any]]:
    async def item() -> Any:
        return (await asyncio.shield(batch))[index]

    return item
