"""Handling change events (resolvers/change_events.py) over fake systems and a real SQLite index."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from connectors import (
    SourceRecord,
    CacheSettings,
    CachedConnector,
    ChangeBatch,
    ChangeEvent,
    ChangeKind,
    SourceUnavailable,
    SystemName,
    open_cache,
)
from resolvers.change_events import ChangeFeeds, ChangeProcessor, OwnWriteLog
from resolvers.write_through import OwnWrites
from tests.support.fakes import FakeConnector, make_record
from xref import SyncState, XrefService, create_engine, create_sessions, upgrade
from xref.engine import DECIDED_BY

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS

ACME_SP = make_record(SP, "1", name="Acme Widgets Inc", email="ops@acme.com", phone="(415) 555-0101",
                      postal_code="94107")
ACME_TW = make_record(TW, "9", name="ACME Widgets", email="ops@acme.com", phone="+1 415 555 0101",
                      postal_code="94107")
#: Created in QuickBooks by a person: surely Acme.
ACME_QB = make_record(QB, "5", name="Acme Widgets, Inc.", email="ops@acme.com", phone="415-555-0101")


def event(record_id: str = "5", system: SystemName = QB, kind: ChangeKind = ChangeKind.UPDATED,
          key: str | None = None) -> ChangeEvent:
    return ChangeEvent(system, record_id, kind, key or f"{system}:{record_id}:{kind}:t1")


@dataclass
class World:
    xref: XrefService
    state: SyncState
    fakes: dict[SystemName, FakeConnector]
    connectors: dict[SystemName, CachedConnector]
    forgotten: list[str]
    own: OwnWrites
    acme: str

    def processor(self, own: OwnWrites | None = None) -> ChangeProcessor:
        return ChangeProcessor(self.connectors, self.xref, self.state, own or self.own)

    def searches(self) -> int:
        return sum(len(f.search_calls) for f in self.fakes.values())


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'xref.sqlite3'}")
    await upgrade(engine)
    xref = XrefService(create_sessions(engine))
    acme = (await xref.link_record(SP, "1", None, confidence=1.0, evidence={}, decided_by=DECIDED_BY)).customer_id
    await xref.link_record(TW, "9", acme, confidence=0.99, evidence={}, decided_by=DECIDED_BY)
    fakes = {s: FakeConnector(s) for s in SystemName}
    for record in (ACME_SP, ACME_TW, ACME_QB):
        fakes[record.system].records[record.id] = record
    cache = open_cache(CacheSettings())
    connectors = {s: CachedConnector(f, cache, CacheSettings()) for s, f in fakes.items()}
    forgotten: list[str] = []
    for connector in connectors.values():
        connector.forget_listeners.append(forgotten.extend)
    yield World(xref, SyncState(xref.sessions), fakes, connectors, forgotten, OwnWrites(), acme)
    await cache.close()
    await engine.dispose()


async def test_a_record_created_in_a_system_is_linked_to_its_customer_without_a_bulk_run(world: World) -> None:
    counts = await world.processor().process([event("5")])

    assert (counts.linked, counts.invalidated, counts.duplicates, counts.echoes) == (1, 1, 0, 0)
    assert await world.xref.customer_for(QB, "5") == world.acme
    assert "quickbooks:5" in world.forgotten


async def test_the_same_delivery_twice_has_one_effect(world: World) -> None:
    processor = world.processor()
    await processor.process([event("5"), event("5")])  # repeated inside one batch, too
    searches, forgotten = world.searches(), len(world.forgotten)

    again = await processor.process([event("5")])

    assert (again.duplicates, again.invalidated, again.linked) == (1, 0, 0)
    assert world.searches() == searches and len(world.forgotten) == forgotten
    assert processor.totals.duplicates == 2


async def test_a_changed_record_is_read_fresh_and_the_cached_copy_dropped(world: World) -> None:
    await world.connectors[QB].fetch("5")  # cached
    world.fakes[QB].records["5"] = replace(ACME_QB, version="2", phone="415-555-0199")

    counts = await world.processor().process([event("5", key="qb:5:t2")])

    assert counts.invalidated == 1
    assert (await world.connectors[QB].fetch("5")).version == "2"


async def test_the_echo_of_an_own_write_changes_nothing(world: World) -> None:
    await world.connectors[QB].fetch("5")
    world.own.record(ACME_QB)  # the gateway wrote version "1" of QuickBooks 5

    counts = await world.processor().process([event("5")])

    assert (counts.echoes, counts.invalidated, counts.linked) == (1, 0, 0)
    assert world.searches() == 0 and world.forgotten == []
    assert await world.xref.customer_for(QB, "5") is None  # no re-match


async def test_an_echo_is_recognised_after_a_restart_through_the_stored_own_writes(world: World) -> None:
    before_restart = OwnWrites()
    own_log = OwnWriteLog(world.state)
    own_log.attach(before_restart)
    before_restart.record(ACME_QB)
    await own_log.aclose()

    counts = await world.processor(own=OwnWrites()).process([event("5")])  # a fresh process: memory empty

    assert (counts.echoes, counts.linked) == (1, 0)


async def test_a_deleted_record_drops_its_cache_entries_and_keeps_its_link(world: World) -> None:
    counts = await world.processor().process([event("9", TW, ChangeKind.DELETED)])

    assert counts.deleted == 1
    assert "teamwork:9" in world.forgotten
    assert await world.xref.customer_for(TW, "9") == world.acme  # reconcile reports it; nothing unlinked here


async def test_a_record_the_system_no_longer_has_counts_as_deleted(world: World) -> None:
    counts = await world.processor().process([event("404", TW)])
    assert counts.deleted == 1 and "teamwork:404" in world.forgotten


class Unreadable(FakeConnector):
    async def fetch_many(self, record_ids: Sequence[str]) -> list:  # type: ignore[type-arg]
        raise SourceUnavailable(self.system, "down")


async def test_a_change_that_cannot_be_read_still_invalidates_and_is_handled_again_later(world: World) -> None:
    down = Unreadable(QB, [ACME_QB])
    connectors = {**world.connectors, QB: CachedConnector(down, open_cache(CacheSettings()), CacheSettings())}
    connectors[QB].forget_listeners.append(world.forgotten.extend)
    failing = ChangeProcessor(connectors, world.xref, world.state, world.own)

    first = await failing.process([event("5")])
    later = await world.processor().process([event("5")])  # the system is back; the same change again

    assert (first.invalidated, first.failed) == (1, 1)
    assert (later.duplicates, later.linked) == (0, 1)


class FeedFake(FakeConnector):
    """A system with a change feed: records changed since a checkpoint (a counter)."""

    def __init__(self, system: SystemName) -> None:
        super().__init__(system)
        self.clock = 0
        self.changed: dict[str, int] = {}
        self.asked: list[str | None] = []

    def change(self, record_id: str, name: str) -> None:
        self.clock += 1
        self.records[record_id] = make_record(self.system, record_id, name=name, version=str(self.clock))
        self.changed[record_id] = self.clock

    async def changes(self, checkpoint: str | None, *, margin_s: float = 0.0) -> ChangeBatch:
        self.asked.append(checkpoint)
        since = int(checkpoint) if checkpoint is not None else None
        events = tuple(
            ChangeEvent(self.system, rid, ChangeKind.UPDATED, f"{rid}:{at}", version=str(at), record=self.records[rid])
            for rid, at in self.changed.items() if since is not None and at > since
        )
        return ChangeBatch(events=events, checkpoint=str(self.clock))


async def test_polling_resumes_from_the_stored_checkpoint_after_a_restart(world: World) -> None:
    feed = FeedFake(TW)
    feed.change("50", "Before Tracking Began")
    connectors = {**world.fakes, TW: feed}

    def feeds() -> ChangeFeeds:  # a new process each time: only the database carries over
        return ChangeFeeds(connectors, ChangeProcessor(connectors, world.xref, SyncState(world.xref.sessions)),
                           SyncState(world.xref.sessions))

    first = await feeds().pull(TW)  # first ever: tracking starts now
    feed.change("51", "Made While Running")
    second = await feeds().pull(TW)
    feed.change("52", "Made While Down")
    after_restart = await feeds().pull(TW)

    assert feed.asked == [None, "1", "2"]
    assert first.received == 0
    assert (second.received, second.new) == (1, 1)
    assert (after_restart.received, after_restart.new) == (1, 1)
    assert await world.xref.customer_for(TW, "50") is None  # older than tracking: the bulk run's business
    assert await world.xref.customer_for(TW, "52") is not None


async def test_a_slow_batch_of_one_system_does_not_hold_back_another_systems_changes(world: World) -> None:
    gate = asyncio.Event()
    teamwork = world.fakes[TW]
    read_teamwork = teamwork.fetch_many

    async def slow_fetch_many(record_ids: Sequence[str]) -> list[SourceRecord | None]:
        await gate.wait()  # Teamwork answering very slowly
        return await read_teamwork(record_ids)

    teamwork.fetch_many = slow_fetch_many  # type: ignore[method-assign]
    processor = world.processor()
    held = asyncio.create_task(processor.process([event("9", TW)]))
    await asyncio.sleep(0.05)
    counts = await asyncio.wait_for(processor.process([event("5")]), timeout=5)
    assert counts.invalidated == 1 and not held.done()
    gate.set()
    assert (await held).invalidated == 1
