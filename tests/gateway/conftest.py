"""A whole c360 on 127.0.0.1, built as `c360 demo` builds it: generated data, simulators, match, gateway."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors import SystemName
from gateway.app import create_app
from gateway.config import SandboxSettings, Settings
from gateway.sources import close_connectors, effective_sources, open_connectors
from sandbox._server import ThreadedServer
from starlette.types import ASGIApp, Receive, Scope, Send
from sandbox._simulator import Simulator
from sandbox.generate import generate
from sandbox.runtime import credentials_for, open_simulators
from xref import MatchSummary, XrefService, create_engine, create_sessions, run_bulk_match, upgrade


@dataclass
class Stack:
    settings: Settings
    gateway_url: str
    simulators: dict[str, Simulator]
    simulator_urls: dict[str, str]
    match: MatchSummary

    @property
    def graphql_url(self) -> str:
        return f"{self.gateway_url}/graphql"


async def _initial_match(settings: Settings) -> MatchSummary:
    engine = create_engine(settings.resolved_database_url)
    await upgrade(engine)
    connectors = open_connectors(effective_sources(settings))
    try:
        return await run_bulk_match(connectors, XrefService(create_sessions(engine)))
    finally:
        await close_connectors(connectors)
        await engine.dispose()


class LateApp:
    """An ASGI app set after its server has bound a port, so the gateway's settings can name its own URL
    (webhook registrations tell the systems where to post)."""

    app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the gateway app was not set before the server started"
        await self.app(scope, receive, send)


def start_stack(data_dir: Path, customers: int = 80, **overrides: Any) -> tuple[Stack, list[ThreadedServer]]:
    """`overrides` are extra Settings fields (e.g. `sources=` with a short cache TTL).

    Polling of the change feeds is off unless `sync=` says otherwise, so the systems see only
    the requests a test makes (several tests count them); webhooks are off unless `webhooks=`.
    """
    credentials = credentials_for(data_dir)
    generate(data_dir, customers=customers, seed=7, credentials=credentials)
    simulators = open_simulators(data_dir, credentials)
    servers = {name: ThreadedServer(sim.app).start() for name, sim in simulators.items()}
    late = LateApp()
    gateway = ThreadedServer(late)
    overrides.setdefault("sync", {"poll_interval_s": 0})
    webhooks = {"public_url": gateway.url, **dict(overrides.pop("webhooks", {}))}
    settings = Settings(
        data_dir=data_dir,
        sandbox=SandboxSettings(**{f"{name}_port": server.port for name, server in servers.items()}),
        webhooks=webhooks,
        **overrides,
    )
    summary = asyncio.run(_initial_match(settings))
    late.app = create_app(settings)
    gateway.start()
    stack = Stack(
        settings=settings,
        gateway_url=gateway.url,
        simulators=simulators,
        simulator_urls={name: s.url for name, s in servers.items()},
        match=summary,
    )
    return stack, [gateway, *servers.values()]


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    built, servers = start_stack(tmp_path_factory.mktemp("c360"))
    yield built
    for server in servers:
        server.stop()


__all__ = ["LateApp", "Stack", "SystemName", "stack", "start_stack"]
