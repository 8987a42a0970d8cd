"""One process's connection to the shared Redis, whether it may be used right now, and the
keyed hashes and seals that keep what is stored there from showing what it is about.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as redis
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from citizen_graph.settings import RedisSettings

logger = logging.getLogger("citizen_graph.redis")

T = TypeVar("T")
NONCE_BYTES = 12


class SharedUnavailable(Exception):
    """Redis cannot be used now; the caller falls back to its per-process state."""


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=purpose).derive(secret.encode())


class SharedState:
    """A command that fails (refused, reset, or slower than `[redis] timeout_s`) marks Redis
    lost: from then on callers skip it and use their per-process twins, at once, without
    waiting for a timeout on every request; a background task pings it every `retry_s` and
    marks it back. One log line when it is lost, one when it is back; never its URL (it may
    carry a password).

    Everything stored is named by a keyed hash (HMAC-SHA-256 under a key derived from
    `[redis] key`), so a key never shows what it is about; cached answers are sealed with
    AES-GCM under another derived key, the stored name as associated data (a value moved to
    another name does not open).
    """

    def __init__(
        self,
        settings: RedisSettings,
        secret: str,
        processes: int,
        queue_s: float = 8.0,
    ) -> None:
        """`processes`: the gateway processes of this deployment sharing the Redis
        (replicas × workers), which divide the limits when it is lost; `queue_s`: how
        long a command may wait for one of this process's connections (a request's
        deadline): a full pool is this process's load, not a lost Redis."""
        self.settings = settings
        self.processes = max(1, processes)
        self.prefix = settings.prefix
        # A bounded pool: past `max_connections` commands queue for a connection rather
        # than each opening its own; only the socket's own timeouts say Redis is lost.
        pool = redis.BlockingConnectionPool.from_url(
            settings.url,
            max_connections=settings.max_connections,
            timeout=queue_s,
            socket_timeout=settings.timeout_s,
            socket_connect_timeout=settings.timeout_s,
            retry=Retry(NoBackoff(), 0),  # a failed command degrades now, never retries
        )
        self.redis: redis.Redis = redis.Redis(connection_pool=pool)
        self._names = _derive(secret, b"citizen-graph redis names")
        self._seal = AESGCM(_derive(secret, b"citizen-graph redis values"))
        self._available = False
        # When Redis was last back after a loss (monotonic): windows counted meanwhile
        # per process are not in Redis yet (`shared.limits`).
        self.back_at = 0.0
        self._watcher: asyncio.Task[None] | None = None

    @property
    def available(self) -> bool:
        return self._available

    def share(self, limit: int) -> int:
        """This process's safe share of a `limit` every process counts against while Redis
        is lost: together they stay within it, each keeps at least 1."""
        return max(1, limit // self.processes)

    @property
    def status(self) -> str:
        """`ok` or `degraded` (configured but unreachable), as `/readyz` says it."""
        return "ok" if self._available else "degraded"

    async def start(self) -> None:
        """Connect (a Redis down at start-up only degrades) and watch it from now on."""
        try:
            await self.redis.ping()
            self._available = True
        except (RedisError, OSError) as error:
            logger.warning(
                "redis unreachable at start-up: per-process limits",
                extra={"error": type(error).__name__},
            )
        self._watcher = asyncio.create_task(self._watch(), name="redis-watcher")

    async def aclose(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self.redis.aclose()
        await self.redis.connection_pool.disconnect()

    async def run(self, command: Callable[[redis.Redis], Awaitable[T]]) -> T:
        """Run one command (or pipeline); SharedUnavailable when Redis is lost or fails."""
        if not self._available:
            raise SharedUnavailable
        try:
            return await command(self.redis)
        except ResponseError as error:
            # A key of another type at one of our names (written by someone else): a miss
            # for this command, not a lost Redis.
            if "WRONGTYPE" not in str(error):
                self._lost(type(error).__name__)
            raise SharedUnavailable from None
        except (RedisError, OSError) as error:
            self._lost(type(error).__name__)
            raise SharedUnavailable from None

    def name(self, kind: str, *parts: str) -> str:
        """The Redis key of `parts` (hashed, keyed) in the `kind` namespace."""
        text = "\x1f".join(parts).encode()
        digest = hmac.new(self._names, text, hashlib.sha256).hexdigest()[:40]
        return f"{self.prefix}:{kind}:{digest}"

    def digest(self, text: str) -> str:
        """A keyed hash of `text` (e.g. a citizen's identifier in a quota's set)."""
        return hmac.new(self._names, text.encode(), hashlib.sha256).hexdigest()[:32]

    def seal(self, plain: bytes, name: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._seal.encrypt(nonce, plain, name.encode())

    def unseal(self, sealed: bytes, name: str) -> bytes | None:
        """The plain value, or None when it does not open (another key, or tampered)."""
        try:
            return self._seal.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], name.encode()
            )
        except (InvalidTag, ValueError):
            return None

    def _lost(self, error: str) -> None:
        if self._available:
            self._available = False
            logger.warning(
                "redis lost: per-process cache, limits and quotas",
                extra={"error": error},
            )

    async def _watch(self) -> None:
        """Ping every `retry_s`, lost or not: an idle gateway notices a dead Redis too
        (`/readyz`, the metrics). When it is back, the pool's dead connections go."""
        while True:
            await asyncio.sleep(self.settings.retry_s)
            try:
                await self.redis.ping()
            except (RedisError, OSError) as error:
                self._lost(type(error).__name__)
                continue
            if not self._available:
                await self.redis.connection_pool.disconnect()
                self.back_at = time.monotonic()
                self._available = True
                logger.info("redis back: shared cache, limits and quotas")
