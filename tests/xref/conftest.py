"""Fixtures for the xref tests: engines on SQLite and a real PostgreSQL, a migrated service, fake connectors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors import SourceRecord, SystemName
from tests.support.fakes import FakeConnector
from tests.support.postgres import PostgresServer, PostgresUnavailable
from xref import XrefService, create_engine, create_sessions, upgrade


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole session; skips only when no binaries exist."""
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    with server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """An asyncpg URL of a database on the session's server (shared: tests wanting a clean one use `engine`)."""
    return postgres_server.create_database("xref_session")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database, fresh for each test, on each dialect."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'xref.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database (not migrated)."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def service(engine: AsyncEngine) -> XrefService:
    """A service on a database migrated to head."""
    await upgrade(engine)
    return XrefService(create_sessions(engine))


@pytest.fixture
def fake_connectors() -> Callable[[Iterable[SourceRecord]], dict[SystemName, FakeConnector]]:
    """Split records by system into one FakeConnector each (every system present, maybe empty)."""

    def build(records: Iterable[SourceRecord]) -> dict[SystemName, FakeConnector]:
        connectors = {system: FakeConnector(system) for system in SystemName}
        for record in records:
            connectors[record.system].records[record.id] = record
        return connectors

    return build
