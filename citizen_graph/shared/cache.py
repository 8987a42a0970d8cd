"""The upstream cache's shared tier: sealed answers in Redis, and in-flight claims.

Every entry is named by a keyed hash of its operation and upstream request (habilitation
included where the operation is per caller) and sealed (`SharedState.seal`); its TTL is the
operation's, absence's the short one. An upstream request is **claimed** before it is sent
(`SET NX` with a bound), so that across processes one makes the call and the others wait
for its answer: API Particulier answers 409 to a duplicate in flight. The one that made the
call stores the answer and then drops the claim, or, when the call failed, leaves a short
failure mark (the error's code and message, which never hold an identifier) that the
waiters raise too. A waiter polls, backing off to 50 ms, within its own deadline; a claim
whose holder vanished expires and is taken over.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis

from citizen_graph.connectors.upstream import Operation
from citizen_graph.errors import NotFound, UpstreamError, UpstreamUnavailable
from citizen_graph.settings import CacheSettings
from citizen_graph.shared import codec
from citizen_graph.shared.state import SharedState

RUNNING = b"running"
FAILURE_MARK_S = 2.0  # how long waiters can read why the call failed
POLL_FIRST_S, POLL_MAX_S = 0.002, 0.05


@dataclass(frozen=True)
class Found:
    """A shared entry: a value, None (no match) or NotFound (absence)."""

    value: Any


@dataclass(frozen=True)
class Claim:
    """What a lookup found for one key: its entry, or whether this process holds it now."""

    found: Found | None
    mine: bool


class SharedCache:
    def __init__(
        self,
        state: SharedState,
        operations: Iterable[Operation],
        settings: CacheSettings,
        hold_s: float,
    ) -> None:
        """`operations`: the registered upstreams' (their TTLs and sources); `hold_s`:
        how long a claim holds at most (longer than any request's deadline)."""
        self._state = state
        self._operations = {op.name: op for op in operations}
        self._ttls_ms = {
            op.name: int(op.ttl_s(settings) * 1000) for op in self._operations.values()
        }
        self._absent_ms = int(settings.not_found_ttl_s * 1000)
        self._hold_ms = int(hold_s * 1000)

    @property
    def available(self) -> bool:
        return self._state.available

    def _names(self, operation: str, key: Hashable) -> tuple[str, str]:
        name = self._state.name("cache", operation, repr(key))
        return name, name + ":claim"

    async def claim(self, operation: str, keys: Sequence[Hashable]) -> list[Claim]:
        """One round trip: each key's entry, else a claim on it (taken or held by
        another process). Raises SharedUnavailable."""
        names = [self._names(operation, key) for key in keys]

        async def command(r: redis.Redis) -> list[Any]:
            pipe = r.pipeline(transaction=True)  # no holder settles in between
            for value, claim in names:
                pipe.get(value)
                pipe.set(claim, RUNNING, nx=True, px=self._hold_ms)
            return await pipe.execute()

        replies = await self._state.run(command)
        claims: list[Claim] = []
        unwanted: list[str] = []
        for index, (value_name, claim_name) in enumerate(names):
            sealed, taken = replies[2 * index], replies[2 * index + 1]
            found = self._open(sealed, value_name)
            if found is not None and taken:
                unwanted.append(claim_name)  # found after all: let the claim go
            claims.append(Claim(found, found is None and bool(taken)))
        if unwanted:
            await self._state.run(lambda r: r.delete(*unwanted))
        return claims

    async def settle(
        self, operation: str, outcomes: Sequence[tuple[Hashable, Any]]
    ) -> None:
        """Store each claimed key's outcome (a value, None, NotFound, or another error)
        and drop or mark its claim, in one round trip."""
        ttl_ms, absent_ms = self._ttls_ms[operation], self._absent_ms

        async def command(r: redis.Redis) -> Any:
            pipe = r.pipeline(transaction=True)
            for key, outcome in outcomes:
                value_name, claim_name = self._names(operation, key)
                if isinstance(outcome, BaseException) and not isinstance(
                    outcome, NotFound
                ):
                    mark = json.dumps(self._failure(operation, outcome)).encode()
                    pipe.set(claim_name, mark, px=int(FAILURE_MARK_S * 1000))
                    continue
                absent = outcome is None or isinstance(outcome, NotFound)
                sealed = self._state.seal(codec.encode(outcome), value_name)
                pipe.set(value_name, sealed, px=absent_ms if absent else ttl_ms)
                pipe.delete(claim_name)
            return await pipe.execute()

        await self._state.run(command)

    async def wait(self, operation: str, key: Hashable, deadline: float) -> Claim:
        """Wait for another process's answer: its entry, or the claim once it is free
        (this process's turn). Raises the holder's failure, UpstreamUnavailable at the
        deadline (monotonic), SharedUnavailable when Redis is lost meanwhile."""
        value_name, claim_name = self._names(operation, key)
        pause = POLL_FIRST_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise UpstreamUnavailable(
                    self._operations[operation].source,
                    "The upstream did not answer in time.",
                )
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, POLL_MAX_S)

            async def command(r: redis.Redis) -> list[Any]:
                pipe = r.pipeline(transaction=True)
                pipe.get(value_name)
                pipe.set(claim_name, RUNNING, nx=True, px=self._hold_ms)
                pipe.get(claim_name)
                return await pipe.execute()

            sealed, taken, mark = await self._state.run(command)
            found = self._open(sealed, value_name)
            if found is not None:
                if taken:
                    await self._state.run(lambda r: r.delete(claim_name))
                return Claim(found, False)
            if taken:
                return Claim(None, True)
            if mark and mark != RUNNING:
                failure = json.loads(mark)
                raise UpstreamUnavailable(failure["source"], failure["message"])

    def _failure(self, operation: str, error: BaseException) -> dict[str, Any]:
        """What waiters raise: the same error as the caller got, when it is the
        project's own (its message never holds an identifier), else the generic one."""
        if isinstance(error, UpstreamError):
            return {"source": error.source, "message": error.message}
        return {"source": self._operations[operation].source, "message": None}

    def _open(self, sealed: bytes | None, name: str) -> Found | None:
        if sealed is None:
            return None
        plain = self._state.unseal(sealed, name)
        if plain is None:
            return None  # sealed under another key: a miss, overwritten on settle
        try:
            return Found(codec.decode(plain))
        except codec.Unreadable:
            return None
