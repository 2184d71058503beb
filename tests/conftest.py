"""Fixtures shared by every test package: sandbox credentials and real HTTP servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from starlette.types import ASGIApp

from sandbox._credentials import SandboxCredentials
from sandbox._server import ThreadedServer
from xref import AuditLog, Outbox, XrefService, create_engine, create_sessions, upgrade


@pytest.fixture
def credentials() -> SandboxCredentials:
    return SandboxCredentials.generate()


@pytest.fixture
def serve() -> Iterator[Callable[[ASGIApp], ThreadedServer]]:
    """Start ASGI apps on free ports of 127.0.0.1 (uvicorn in a thread); stopped after the test."""
    started: list[ThreadedServer] = []

    def start(app: ASGIApp) -> ThreadedServer:
        server = ThreadedServer(app).start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
async def write_stores(tmp_path: Path) -> AsyncIterator[tuple[XrefService, Outbox, AuditLog]]:
    """The xref, outbox and audit log of a fresh SQLite xref database, for write-path tests."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'xref.sqlite3'}")
    await upgrade(engine)
    sessions = create_sessions(engine)
    yield XrefService(sessions), Outbox(sessions), AuditLog(sessions)
    await engine.dispose()
