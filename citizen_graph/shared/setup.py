"""How the shared state is opened and handed to the cache, the limiters and the quotas."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from functools import partial

from redis.connection import parse_url

from citizen_graph.cache import UpstreamCache
from citizen_graph.connectors import Connectors, Limiter, operations
from citizen_graph.settings import Settings, SettingsError
from citizen_graph.shared.cache import SharedCache
from citizen_graph.shared.limits import SharedWindow
from citizen_graph.shared.quotas import SharedQuotas
from citizen_graph.shared.state import SharedState

MIN_KEY_CHARS = 16


async def open_shared(
    settings: Settings, sandbox_key: str, stack: AsyncExitStack
) -> SharedState | None:
    """The Redis named by `[redis] url`, if any (a Redis down at start-up only degrades)."""
    config = settings.redis
    if not config.url:
        return None
    check_shared(settings)
    state = SharedState(
        config,
        str(config.key) or sandbox_key,
        config.replicas * settings.server.workers,
        queue_s=settings.server.request_deadline_s,
    )
    await state.start()
    stack.push_async_callback(state.aclose)
    return state


def check_shared(settings: Settings) -> None:
    """What start-up refuses of `[redis]`: a short key outside sandbox mode, a URL
    redis-py cannot use (never echoed: it may carry a password)."""
    config = settings.redis
    if not config.url:
        return
    if not settings.sandbox.enabled and len(str(config.key)) < MIN_KEY_CHARS:
        raise SettingsError(
            f"redis.key is required with redis.url outside sandbox mode, "
            f"{MIN_KEY_CHARS} characters at least (32 random bytes, base64)"
        )
    try:
        parse_url(config.url)  # type: ignore[no-untyped-call]  # as redis-py reads it
    except ValueError:
        raise SettingsError(
            "redis.url must be redis://, rediss:// or unix:// with a host"
        ) from None


def share(
    settings: Settings,
    state: SharedState,
    connectors: Connectors,
    on_lookup: Callable[[str, str], None],
) -> tuple[UpstreamCache, SharedQuotas]:
    """The cache, the rate limits and the quotas, shared through Redis."""
    tier = SharedCache(state, operations(), settings.cache)
    for client in connectors.clients:
        client.share_limits(partial(_shared_limiter, state, client.source))
    cache = UpstreamCache(settings.cache, shared=tier, on_lookup=on_lookup)
    return cache, SharedQuotas(state)


def _shared_limiter(
    state: SharedState,
    source: str,
    credential: str,
    rate: int | None,
    burst: int | None,
) -> Limiter:
    """A rated credential's limiter (`UpstreamClient.share_limits`), counted in Redis."""
    assert rate, "a limit without a rate stays per process"
    return SharedWindow(state, state.name("rate", source, credential), rate, burst)
