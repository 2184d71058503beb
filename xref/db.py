"""Engines and sessions for the xref store: SQLite (embedded default) or PostgreSQL (production)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

__all__ = ["canonical_json", "create_engine", "create_sessions", "normalize_url"]

#: How long a SQLite writer waits for another writer's lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5000

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def normalize_url(url: str | URL) -> URL:
    """The URL with its async driver: `sqlite:///x.db` and `postgresql://...` are accepted too."""
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is not None:
        parsed = parsed.set(drivername=driver)
    if parsed.drivername not in _ASYNC_DRIVERS.values():
        raise ValueError(f"unsupported xref database driver {parsed.drivername!r}; use sqlite or postgresql")
    return parsed


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: equal values store as equal text, so a re-run compares text, not parsed JSON."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url.query)


def create_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """An async engine for the xref database.

    SQLite gets WAL (readers do not block the writer), a busy timeout (concurrent
    writers wait instead of failing) and enforced foreign keys on every connection.
    An in-memory SQLite database lives in one shared connection, otherwise each pooled
    connection would see its own empty database.
    """
    parsed = normalize_url(url)
    kwargs.setdefault("json_serializer", canonical_json)
    if parsed.get_backend_name() == "sqlite":
        if _is_memory(parsed):
            kwargs.setdefault("poolclass", StaticPool)
        engine = create_async_engine(parsed, **kwargs)
        memory = _is_memory(parsed)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                if not memory:
                    cursor.execute("PRAGMA journal_mode=WAL")
                    cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                cursor.execute("PRAGMA foreign_keys=ON")
            finally:
                cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(parsed, **kwargs)


def create_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The session factory for one unit of work each (`async with sessions.begin() as s:`).

    `expire_on_commit=False` because a lazy refresh after commit would need I/O, which
    raises under asyncio.
    """
    return async_sessionmaker(engine, expire_on_commit=False)
