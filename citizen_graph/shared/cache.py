"""The upstream cache's shared tier: sealed answers in Redis, and in-flight claims, short
leases renewed by their holder while its call runs, that let one process make an upstream
call while the others wait for its answer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import count
from typing import Any

import redis.asyncio as redis
from redis.commands.core import AsyncScript

from citizen_graph.connectors.upstream import Operation
from citizen_graph.errors import NotFound, UpstreamError, UpstreamUnavailable
from citizen_graph.settings import CacheSettings
from citizen_graph.shared import codec
from citizen_graph.shared.state import SharedState, SharedUnavailable

RUNNING = b"running:"  # a claim's value: this prefix, then its holder's unique token
FAILURE_MARK_MS = 2000  # how long waiters can read why the call failed
# A claim's lease: renewed every third of it while its holder runs, so that a holder that
# died (or whose event loop stalls) is taken over within it, well inside a request.
LEASE_S = 2.0
POLL_FIRST_S, POLL_MAX_S = 0.002, 0.05

# KEYS: per claim, its value's name and its own; ARGV: per claim, its holder's token ('' when
# none is held), what to do (value, failure, release), the value or failure mark, its life
# (ms). Only the holder of a claim (the token still in it) drops it or marks it failed; a
# value is stored by its holder, or by anyone when no value is there yet.
SETTLE = """
for i = 1, #KEYS / 2 do
  local value, claim = KEYS[2 * i - 1], KEYS[2 * i]
  local token, kind = ARGV[4 * i - 3], ARGV[4 * i - 2]
  local payload, life = ARGV[4 * i - 1], ARGV[4 * i]
  local mine = token ~= '' and redis.call('GET', claim) == token
  if kind == 'value' then
    if mine then
      redis.call('SET', value, payload, 'PX', life)
      redis.call('DEL', claim)
    else
      redis.call('SET', value, payload, 'PX', life, 'NX')
    end
  elseif mine and kind == 'failure' then
    redis.call('SET', claim, payload, 'PX', life)
  elseif mine then
    redis.call('DEL', claim)
  end
end
"""
# What SETTLE does for one claim: (value's name, claim's name, token, kind, payload, life).
Settling = tuple[str, str, bytes, bytes, bytes, int]
# KEYS: claims; ARGV: the lease (ms), then each claim's token. Lengthens those still held.
RENEW = """
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i + 1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
  end
end
"""


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
    """Every entry is named by a keyed hash of its operation and upstream request
    (habilitation included where the operation is per caller) and sealed
    (`SharedState.seal`); its TTL is the operation's, absence's the short one.

    An upstream request is **claimed** before it is sent (`SET NX` of a token unique to
    this process and claim, for a lease its holder renews while the call runs), so that
    across processes one makes the call and the others wait for its answer: API
    Particulier answers 409 to a duplicate in flight. The holder stores the answer and
    drops the claim, or, when the call failed, replaces it by a short failure mark
    (sealed, the error's message, which never holds an identifier) that the waiters raise
    too; both only while the claim still holds its token (`SETTLE`, as redis-py's `Lock`
    releases). A holder that outlived its claim (a
    stalled loop) and was taken over leaves the new holder's claim alone: its answer is
    stored only if no value is there yet (a real answer, sealed, that the new holder
    overwrites), its failure not at all (the new holder's waiters wait for that call).

    A waiter polls, backing off to 50 ms, within its own deadline; a claim whose holder
    vanished expires within its lease and is taken over, and so is a mark this gateway
    did not seal, or a claim made to last (no TTL, or longer than a lease).
    """

    def __init__(
        self,
        state: SharedState,
        operations: Iterable[Operation],
        settings: CacheSettings,
        lease_s: float = LEASE_S,
        renew: bool = True,
    ) -> None:
        """`operations`: the registered upstreams' (their TTLs and sources); `renew`:
        False only for tests of a stalled holder."""
        self._state = state
        self._operations = {op.name: op for op in operations}
        self._ttls_ms = {
            op.name: int(op.ttl_s(settings) * 1000) for op in self._operations.values()
        }
        self._absent_ms = int(settings.not_found_ttl_s * 1000)
        self._hold_ms = int(lease_s * 1000)
        self._renews = renew
        self._renewing: asyncio.Task[None] | None = None
        self._settle: AsyncScript = state.redis.register_script(SETTLE)
        self._renew: AsyncScript = state.redis.register_script(RENEW)
        self._me = os.urandom(6).hex().encode()
        self._claims = count()
        # The claims this process holds: name -> (token, when it expires in Redis).
        self._held: dict[str, tuple[bytes, float]] = {}

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
        tokens = [self._token() for _ in names]

        async def command(r: redis.Redis) -> list[Any]:
            pipe = r.pipeline(transaction=True)  # no holder settles in between
            for (value, claim), token in zip(names, tokens, strict=True):
                pipe.get(value)
                pipe.set(claim, token, nx=True, px=self._hold_ms)
            return await pipe.execute()

        replies = await self._state.run(command)
        claims: list[Claim] = []
        unwanted: list[Settling] = []
        for index, (value_name, claim_name) in enumerate(names):
            token, taken = tokens[index], bool(replies[2 * index + 1])
            found = self._open(replies[2 * index], value_name)
            if found is not None and taken:  # found after all: let the claim go
                unwanted.append(_release(value_name, claim_name, token))
            elif taken:
                self._hold(claim_name, token)
            claims.append(Claim(found, found is None and taken))
        if unwanted:
            await self._state.run(partial(self._run_settle, unwanted))
        return claims

    async def settle(
        self, operation: str, outcomes: Sequence[tuple[Hashable, Any]]
    ) -> None:
        """Store each claimed key's outcome (a value, None, NotFound, or another error)
        and drop or mark its claim while this process holds it, in one round trip."""
        settling = [
            self._settling(operation, key, outcome) for key, outcome in outcomes
        ]
        await self._state.run(partial(self._run_settle, settling))

    def _settling(self, operation: str, key: Hashable, outcome: Any) -> Settling:
        value_name, claim_name = self._names(operation, key)
        token = self._held.pop(claim_name, (b"", 0.0))[0]
        if isinstance(outcome, BaseException) and not isinstance(outcome, NotFound):
            failure = json.dumps(self._failure(outcome)).encode()
            mark = self._state.seal(failure, claim_name)
            return value_name, claim_name, token, b"failure", mark, FAILURE_MARK_MS
        absent = outcome is None or isinstance(outcome, NotFound)
        life_ms = self._absent_ms if absent else self._ttls_ms[operation]
        # The expiry is sealed in too: a PERSIST in Redis cannot make it last.
        expires = int(time.time() * 1000) + life_ms
        plain = expires.to_bytes(8, "big") + codec.encode(outcome)
        sealed = self._state.seal(plain, value_name)
        return value_name, claim_name, token, b"value", sealed, life_ms

    async def _run_settle(self, settling: list[Settling], r: redis.Redis) -> None:
        keys = [name for value, claim, *_ in settling for name in (value, claim)]
        args = [
            arg
            for *_, token, kind, payload, life in settling
            for arg in (token, kind, payload, life)
        ]
        await self._settle(keys=keys, args=args, client=r)

    async def wait(self, operation: str, key: Hashable, deadline: float) -> Claim:
        """Wait for another process's answer: its entry, or the claim once it is free
        (this process's turn). Raises the holder's failure, UpstreamUnavailable at the
        deadline (monotonic), SharedUnavailable when Redis is lost meanwhile."""
        value_name, claim_name = self._names(operation, key)
        source = self._operations[operation].source
        pause = POLL_FIRST_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise UpstreamUnavailable(
                    source, "The upstream did not answer in time."
                )
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, POLL_MAX_S)
            token = self._token()
            sealed, taken, mark, ttl_ms = await self._state.run(
                partial(self._poll, value_name, claim_name, token)
            )
            found = self._open(sealed, value_name)
            if found is not None:
                if taken:
                    await self._release(value_name, claim_name, token)
                return Claim(found, False)
            if taken:
                self._hold(claim_name, token)
                return Claim(None, True)
            running = mark is not None and mark.startswith(RUNNING)
            if mark is None or (running and 0 <= ttl_ms <= self._hold_ms):
                continue  # freed meanwhile (taken next time), or still running
            if running:  # made to last (no TTL, or past any lease): not a holder's
                await self._release(value_name, claim_name, mark)
                continue
            failure = self._failed(mark, claim_name)
            if failure is None or ttl_ms < 0:  # not ours, or made to last: taken over
                await self._release(value_name, claim_name, mark)
                continue
            raise UpstreamUnavailable(source, failure)

    async def _renew_all(
        self, keys: list[str], args: list[bytes | int], r: redis.Redis
    ) -> None:
        await self._renew(keys=keys, args=args, client=r)

    async def _poll(
        self, value_name: str, claim_name: str, token: bytes, r: redis.Redis
    ) -> list[Any]:
        """The entry, whether `token` claimed it, and the claim as it is now."""
        pipe = r.pipeline(transaction=True)
        pipe.get(value_name)
        pipe.set(claim_name, token, nx=True, px=self._hold_ms)
        pipe.get(claim_name)
        pipe.pttl(claim_name)
        return await pipe.execute()

    async def _release(self, value_name: str, claim_name: str, token: bytes) -> None:
        """Drop the claim if it still holds `token` (this process's, or a mark taken over)."""
        release = [_release(value_name, claim_name, token)]
        await self._state.run(partial(self._run_settle, release))

    def _token(self) -> bytes:
        return RUNNING + self._me + b":" + str(next(self._claims)).encode()

    def _hold(self, claim_name: str, token: bytes) -> None:
        """Remember a claim taken, forgetting those expired in Redis (never settled), and
        renew its lease until it is settled."""
        now = time.monotonic()
        self._held.pop(claim_name, None)
        self._held[claim_name] = (token, now + self._hold_ms / 1000)
        while self._held:  # oldest first
            oldest, (_, until) = next(iter(self._held.items()))
            if until > now:
                break
            del self._held[oldest]
        if self._renews and (self._renewing is None or self._renewing.done()):
            self._renewing = asyncio.ensure_future(self._renew_held())

    async def _renew_held(self) -> None:
        """Every third of a lease, one round trip renews every claim still held; ends
        when none is."""
        while self._held:
            await asyncio.sleep(self._hold_ms / 3000)
            held = list(self._held.items())
            keys = [name for name, _ in held]
            args: list[bytes | int] = [self._hold_ms, *(t for _, (t, _) in held)]
            with contextlib.suppress(SharedUnavailable):  # they expire: taken over
                await self._state.run(partial(self._renew_all, keys, args))
                until = time.monotonic() + self._hold_ms / 1000
                for name, (token, _) in held:
                    if self._held.get(name, (b"",))[0] == token:
                        self._held[name] = (token, until)

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


def _release(value_name: str, claim_name: str, token: bytes) -> Settling:
    return value_name, claim_name, token, b"release", b"", 0
