"""Fixtures shared by every test package: sandbox credentials and real HTTP servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from starlette.types import ASGIApp

from sandbox._credentials import SandboxCredentials
from sandbox._server import ThreadedServer


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
