"""The Graph subscription keeper: create, renew before expiry, recreate when Graph lost it (a fake Graph, real SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors import RecordNotFound, Subscription, SystemName
from gateway.change_events import SUBSCRIPTION_CHECKPOINT, keep_graph_subscription
from gateway.config import Settings
from xref import SyncState, create_engine, create_sessions, upgrade

URL = "https://c360.example.com/webhooks/sharepoint"


class FakeGraph:
    def __init__(self, *, lost: bool = False) -> None:
        self.lost = lost
        self.calls: list[tuple[str, str]] = []
        self.created = 0

    async def subscribe(self, url: str, expires_at: datetime) -> Subscription:
        self.created += 1
        self.calls.append(("subscribe", url))
        return Subscription(f"sub-{self.created}", expires_at)

    async def renew_subscription(self, subscription_id: str, expires_at: datetime) -> Subscription:
        self.calls.append(("renew", subscription_id))
        if self.lost:
            raise RecordNotFound(SystemName.SHAREPOINT, "The object was not found.", status=404)
        return Subscription(subscription_id, expires_at)

    async def unsubscribe(self, subscription_id: str) -> None:
        self.calls.append(("unsubscribe", subscription_id))


@pytest.fixture
async def state(tmp_path: Path) -> AsyncIterator[SyncState]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'xref.sqlite3'}")
    await upgrade(engine)
    yield SyncState(create_sessions(engine))
    await engine.dispose()


async def stored_cursor(state: SyncState) -> str | None:
    stored = await state.checkpoint(SUBSCRIPTION_CHECKPOINT)
    return stored.cursor if stored is not None else None


async def run_until(graph: FakeGraph, state: SyncState, done: Callable[[], Awaitable[bool]],
                    **webhooks: Any) -> dict[str, Any]:
    """Run the keeper until `done()` holds (checked every 10 ms, for at most 4 s), then stop it."""
    settings = Settings(webhooks=webhooks)  # type: ignore[arg-type]
    stop = asyncio.Event()
    registrations: dict[str, Any] = {}
    task = asyncio.create_task(keep_graph_subscription(graph, state, URL, settings, stop, registrations))
    try:
        for _ in range(400):
            if await done():
                break
            await asyncio.sleep(0.01)
        assert await done(), graph.calls
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    return registrations


async def test_without_a_subscription_one_is_created_and_stored(state: SyncState) -> None:
    graph = FakeGraph()
    async def stored() -> bool:
        return await stored_cursor(state) == "sub-1"

    registrations = await run_until(graph, state, stored)

    stored = await state.checkpoint(SUBSCRIPTION_CHECKPOINT)
    assert graph.calls == [("subscribe", URL)]
    assert stored is not None and stored.cursor == "sub-1" and stored.details["url"] == URL
    assert stored.expires_at is not None and stored.expires_at > datetime.now(UTC) + timedelta(days=2)
    assert registrations == {"sharepoint": "sub-1"}


async def test_a_stored_subscription_is_renewed_at_startup_and_again_before_it_expires(state: SyncState) -> None:
    await state.save_checkpoint(SUBSCRIPTION_CHECKPOINT, "sharepoint", "sub-7",
                                expires_at=datetime.now(UTC) + timedelta(days=1), details={"url": URL})
    graph = FakeGraph()

    # A lifetime of 1.2 s renewed 1 s ahead: the second renewal is due 0.2 s after the first.
    async def renewed_twice() -> bool:
        return len(graph.calls) >= 2

    await run_until(graph, state, renewed_twice, subscription_minutes=0.02, renew_before_s=1.0)

    assert graph.calls[:2] == [("renew", "sub-7"), ("renew", "sub-7")]


async def test_a_subscription_graph_no_longer_has_is_recreated(state: SyncState) -> None:
    await state.save_checkpoint(SUBSCRIPTION_CHECKPOINT, "sharepoint", "sub-7",
                                expires_at=datetime.now(UTC) + timedelta(days=1), details={"url": URL})
    graph = FakeGraph(lost=True)

    async def recreated() -> bool:
        return await stored_cursor(state) == "sub-1"

    await run_until(graph, state, recreated)

    assert graph.calls[:2] == [("renew", "sub-7"), ("subscribe", URL)]


async def test_a_subscription_for_an_old_url_is_replaced(state: SyncState) -> None:
    await state.save_checkpoint(SUBSCRIPTION_CHECKPOINT, "sharepoint", "sub-old",
                                expires_at=datetime.now(UTC) + timedelta(days=1), details={"url": "https://old/x"})
    graph = FakeGraph()

    async def replaced() -> bool:
        return await stored_cursor(state) == "sub-1"

    await run_until(graph, state, replaced)

    assert graph.calls[:2] == [("unsubscribe", "sub-old"), ("subscribe", URL)]
