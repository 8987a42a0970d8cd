"""How the shared state is opened and handed to the cache, the limiters and the quotas."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from functools import partial

from citizen_graph.cache import UpstreamCache
from citizen_graph.connectors import Connectors, operations
from citizen_graph.connectors._resilience import Limiter, SlidingWindowLimiter
from citizen_graph.settings import Settings, SettingsError
from citizen_graph.shared.cache import SharedCache
from citizen_graph.shared.limits import SharedWindow
from citizen_graph.shared.quotas import SharedQuotas
from citizen_graph.shared.state import SharedState


async def open_shared(
    settings: Settings, sandbox_key: str, stack: AsyncExitStack
) -> SharedState | None:
    """The Redis named by `[redis] url`, if any (a Redis down at start-up only degrades)."""
    config = settings.redis
    if not config.url:
        return None
    secret = str(config.key)
    if not secret and not settings.sandbox.enabled:
        raise SettingsError("redis.key is required with redis.url outside sandbox mode")
    state = SharedState(
        config, secret or sandbox_key, config.replicas * settings.server.workers
    )
    await state.start()
    stack.push_async_callback(state.aclose)
    return state


def share(
    settings: Settings,
    state: SharedState,
    connectors: Connectors,
    on_lookup: Callable[[str, str], None],
) -> tuple[UpstreamCache, SharedQuotas]:
    """The cache, the rate limits and the quotas, shared through Redis."""
    hold_s = settings.server.request_deadline_s + 1.0  # a claim outlives its request
    tier = SharedCache(state, operations(), settings.cache, hold_s)
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
    if rate is None:  # only Retry-After pauses: nothing worth a round trip
        return SlidingWindowLimiter(None)
    return SharedWindow(state, state.name("rate", source, credential), rate, burst)
