"""The upstream cache's shared tier: sealed answers in Redis, and in-flight claims.

Every entry is named by a keyed hash of its operation and upstream request (habilitation
included where the operation is per caller) and sealed (`SharedState.seal`); its TTL is the
operation's, absence's the short one. An upstream request is **claimed** before it is sent
(`SET NX` with a bound), so that across processes one makes the call and the others wait
for its answer: API Particulier answers 409 to a duplicate in flight. The one that made the
call stores the answer and then drops the claim, or, when the call failed, leaves a short
failure mark (sealed, the error's message, which never holds an identifier) that the
waiters raise too. A mark this gateway did not seal, or a claim made to last (no TTL), is
taken over. A waiter polls, backing off to 50 ms, within its own deadline; a claim
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
        """Each key's entry, else a claim on it (taken or held by another process):
        one read-only round trip when Redis holds them all, a second for the misses.
        Raises SharedUnavailable."""
        names = [self._names(operation, key) for key in keys]
        values = await self._state.run(lambda r: r.mget([v for v, _ in names]))
        found = [
            self._open(sealed if isinstance(sealed, bytes) else None, v)
            for sealed, (v, _) in zip(values, names, strict=True)
        ]
        missed = [i for i, entry in enumerate(found) if entry is None]
        claims = [Claim(entry, False) for entry in found]
        if missed:
            taken = await self._claim([names[i] for i in missed])
            for i, claim in zip(missed, taken, strict=True):
                claims[i] = claim
        return claims

    async def _claim(self, names: list[tuple[str, str]]) -> list[Claim]:
        """Claim each name, reading its entry in the same transaction (a holder may
        have settled since the first read)."""

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
                    failure = json.dumps(self._failure(outcome)).encode()
                    mark = self._state.seal(failure, claim_name)
                    pipe.set(claim_name, mark, px=int(FAILURE_MARK_S * 1000))
                    continue
                absent = outcome is None or isinstance(outcome, NotFound)
                life_ms = absent_ms if absent else ttl_ms
                # The expiry is sealed in too: a PERSIST in Redis cannot make it last.
                expires = int(time.time() * 1000) + life_ms
                plain = expires.to_bytes(8, "big") + codec.encode(outcome)
                pipe.set(value_name, self._state.seal(plain, value_name), px=life_ms)
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
                pipe.pttl(claim_name)
                return await pipe.execute()

            sealed, taken, mark, ttl_ms = await self._state.run(command)
            found = self._open(sealed, value_name)
            if found is not None:
                if taken:
                    await self._state.run(lambda r: r.delete(claim_name))
                return Claim(found, False)
            if taken:
                return Claim(None, True)
            if mark is None or (mark == RUNNING and ttl_ms >= 0):
                continue  # freed meanwhile (taken next time), or still running
            failure = self._failed(mark, claim_name)
            if failure is None or ttl_ms < 0:  # not ours, or made to last: taken over
                await self._state.run(lambda r: r.delete(claim_name))
                continue
            raise UpstreamUnavailable(self._operations[operation].source, failure)

    def _failure(self, error: BaseException) -> dict[str, Any]:
        """What waiters raise: the message the caller got, when the error is the
        project's own (its messages never hold an identifier), else the generic one."""
        message = error.message if isinstance(error, UpstreamError) else None
        return {"message": message}

    def _failed(self, mark: bytes, name: str) -> str | None:
        """A failure mark's message (the generic one when it had none), or None when
        the mark is not one this gateway sealed."""
        plain = self._state.unseal(mark, name)
        try:
            failure = json.loads(plain) if plain is not None else None
        except ValueError:
            return None
        if not isinstance(failure, dict) or not isinstance(
            failure.get("message", ""), str | None
        ):
            return None
        return str(failure.get("message") or UpstreamUnavailable.default_message)

    def _open(self, sealed: bytes | None, name: str) -> Found | None:
        if sealed is None:
            return None
        plain = self._state.unseal(sealed, name)
        if plain is None or len(plain) < 8:
            return None  # sealed under another key: a miss, overwritten on settle
        if int.from_bytes(plain[:8], "big") < time.time() * 1000:
            return None  # past its sealed expiry, whatever Redis's TTL says
        plain = plain[8:]
        try:
            return Found(codec.decode(plain))
        except codec.Unreadable:
            return None
