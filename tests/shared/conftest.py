"""Shared-state pieces against the session's real Redis, each test from an empty one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from citizen_graph.settings import RedisSettings
from citizen_graph.shared.state import SharedState

StateFactory = Callable[..., Awaitable[SharedState]]


@pytest.fixture
async def open_state(redis_url: str) -> AsyncIterator[StateFactory]:
    """Open a process's SharedState on the test's Redis (several: several processes)."""
    opened: list[SharedState] = []

    async def open_one(
        url: str = redis_url, processes: int = 2, key: str = "k", **settings: float
    ) -> SharedState:
        state = SharedState(RedisSettings(url=url, **settings), key, processes)  # type: ignore[arg-type]
        await state.start()
        opened.append(state)
        return state

    yield open_one
    for state in opened:
        await state.aclose()
