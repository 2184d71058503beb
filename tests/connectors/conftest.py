"""Fixtures for the connector tests: a real Redis server started for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.redis import RedisServer, RedisUnavailable


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One throwaway Redis for the whole session; skips only when `redis-server` is not installed."""
    try:
        server = RedisServer.start()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    with server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """URL of db 0 on the session's server (shared: tests keep apart by key namespace)."""
    return redis_server.url()
