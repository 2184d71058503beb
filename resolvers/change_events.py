"""What the gateway does with a change made in a system: forget the stale copy, place the record in the index.

Change events come from webhooks and from polling the systems' change feeds
(connectors/_changes.py). For each one, in order:

1. **Dedupe**: a change already handled (same dedup key, kept in the xref database with an
   expiry) is skipped, so a delivery retried by the system, or a change seen by both a webhook
   and a poll, has one effect.
2. **Echo**: the record is read as it is now (feeds hand it over; webhooks carry no data, so it
   is fetched around the cache); if that version is one the gateway wrote itself
   (`OwnWrites`, in memory, and persisted so a restart or another process still knows it),
   nothing else happens. The write path already updated the cache and the index.
3. **Invalidate** the cached record, so the next read shows the change. A read failure does not
   stop this step: the cached copy is stale either way.
4. **Match** the record incrementally (`xref.match_one`): a new record links to its customer
   or goes to the review queue; a changed name or email can move a matcher-made link.

A **deleted** record (Graph delta `deleted`, Teamwork COMPANY.DELETED, QuickBooks delete or the
loser of a merge) has its cache entries (the record and its relations) dropped, and its link
is left in place: the index keeps identities, and reconciliation reports links to records
that no longer exist, so a steward sees them instead of the gateway silently unlinking them.

Only counts and ids are logged, never customer data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from connectors import ChangeEvent, ChangeKind, Connector, ConnectorError, SourceRecord, SystemName
from resolvers.write_through import OwnWrites
from xref import MatchAction, SyncState, XrefService, match_one
from xref.engine import EngineSettings

__all__ = ["FEED_CHECKPOINTS", "ChangeCounts", "ChangeFeeds", "ChangeProcessor", "OwnWriteLog"]

log = logging.getLogger(__name__)

#: Relations a record's system may hold, by cache name → the connector method that loads them.
_RELATIONS: Final = {"invoices": "invoices_for", "projects": "projects_for", "documents": "documents_for"}
#: Checkpoint name of each system's change feed in the xref database.
FEED_CHECKPOINTS: Final = {
    SystemName.SHAREPOINT: "sharepoint:delta",
    SystemName.TEAMWORK: "teamwork:scan",
    SystemName.QUICKBOOKS: "quickbooks:cdc",
}


@dataclass
class ChangeCounts:
    """What a batch of events came to (logged; also read by tests and the events benchmark)."""

    received: int = 0
    duplicates: int = 0
    echoes: int = 0
    invalidated: int = 0
    deleted: int = 0
    linked: int = 0
    new: int = 0
    kept: int = 0
    review: int = 0
    failed: int = 0

    def add(self, other: ChangeCounts) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _source(connector: Connector) -> Connector:
    """The connector under the read cache (still behind the breaker and limiter)."""
    inner = getattr(connector, "inner", None)
    return inner if getattr(connector, "invalidate", None) is not None and inner is not None else connector


class ChangeProcessor:
    """Applies change events (see the module docstring). One batch at a time per system and process,
    so the dedupe check and the mark that follows it cannot interleave with another batch of the
    same system here; systems run side by side, so a long batch of one (many records to match)
    does not hold back another's invalidation.
    """

    def __init__(
        self,
        connectors: Mapping[SystemName, Connector],
        xref: XrefService,
        state: SyncState,
        own_writes: OwnWrites | None = None,
        *,
        region: str = "US",
        engine_settings: EngineSettings | None = None,
    ) -> None:
        self.connectors = connectors
        self.xref = xref
        self.state = state
        self.own_writes = own_writes
        self.region = region
        self.engine_settings = engine_settings
        self.totals = ChangeCounts()
        self._locks: dict[SystemName, asyncio.Lock] = {}

    async def process(self, events: Sequence[ChangeEvent]) -> ChangeCounts:
        by_system: dict[SystemName, list[ChangeEvent]] = {}
        for event in events:
            by_system.setdefault(event.system, []).append(event)

        async def one_system(system: SystemName, batch: list[ChangeEvent]) -> ChangeCounts:
            async with self._locks.setdefault(system, asyncio.Lock()):
                return await self._process(batch)

        counts = ChangeCounts()
        for part in await asyncio.gather(*(one_system(s, b) for s, b in by_system.items())):
            counts.add(part)
        self.totals.add(counts)
        if counts.received:
            log.info("change events handled", extra={f"events_{k}": v for k, v in counts.as_dict().items() if v})
        return counts

    async def _process(self, events: Sequence[ChangeEvent]) -> ChangeCounts:
        counts = ChangeCounts(received=len(events))
        events = [e for e in events if e.system in self.connectors]
        counts.failed += counts.received - len(events)  # a system this gateway does not serve
        unique = list({e.dedup_key: e for e in events}.values())
        seen = await self.state.seen([e.dedup_key for e in unique]) if unique else set()
        fresh = [e for e in unique if e.dedup_key not in seen]
        counts.duplicates += len(events) - len(fresh)

        # One outcome per record: its latest event, marked with every key that named it.
        latest: dict[tuple[SystemName, str], ChangeEvent] = {}
        keys: dict[tuple[SystemName, str], list[str]] = {}
        for event in fresh:
            ref = (event.system, event.record_id)
            keys.setdefault(ref, []).append(event.dedup_key)
            latest.pop(ref, None)
            latest[ref] = event

        records = await self._current_records(list(latest.values()), counts)
        done: dict[SystemName, list[str]] = {}
        for ref, event in latest.items():
            if await self._apply(event, records.get(ref, _UNREAD), counts):
                done.setdefault(ref[0], []).extend(keys[ref])
        for system, handled in done.items():
            await self.state.mark_seen(system.value, handled)
        return counts

    async def _current_records(
        self, events: Sequence[ChangeEvent], counts: ChangeCounts
    ) -> dict[tuple[SystemName, str], SourceRecord | None | object]:
        """Each changed record as it is now: the feed's copy, else one uncached batch read per system.

        A record the system no longer has maps to None; one that could not be read is absent.
        """
        found: dict[tuple[SystemName, str], SourceRecord | None | object] = {}
        wanted: dict[SystemName, list[str]] = {}
        for event in events:
            if event.kind is ChangeKind.DELETED:
                continue
            if event.record is not None and event.record.version is not None:
                found[(event.system, event.record_id)] = event.record
            else:
                wanted.setdefault(event.system, []).append(event.record_id)
        for system, ids in wanted.items():
            try:
                fetched = await _source(self.connectors[system]).fetch_many(ids)
            except ConnectorError as exc:
                log.warning("could not read changed records", extra={"system": system.value, "count": len(ids),
                                                                     "error": type(exc).__name__})
                continue
            for record_id, record in zip(ids, fetched, strict=True):
                found[(system, record_id)] = record
        return found

    async def _apply(self, event: ChangeEvent, current: SourceRecord | None | object, counts: ChangeCounts) -> bool:
        """Handle one record's change; True when it is done with (its keys may be marked)."""
        system, record_id = event.system, event.record_id
        if event.kind is ChangeKind.DELETED or current is None:
            await self._forget(system, record_id, relations=True)
            counts.deleted += 1
            return True
        if current is _UNREAD:
            # The system could not be read: the cached copy is stale anyway. Not marked, so the
            # same change arriving again (a retry, the next poll) gets matched then.
            await self._forget(system, record_id)
            counts.invalidated += 1
            counts.failed += 1
            return False
        assert isinstance(current, SourceRecord)
        if await self._is_own(current):
            counts.echoes += 1
            return True
        await self._forget(system, record_id)
        counts.invalidated += 1
        try:
            result = await match_one(current, self.connectors, self.xref, region=self.region,
                                     settings=self.engine_settings)
        except ConnectorError as exc:
            log.warning("incremental match failed", extra={"system": system.value, "record_id": record_id,
                                                          "error": type(exc).__name__})
            counts.failed += 1
            return False
        if result.action is MatchAction.LINKED:
            counts.linked += 1
        elif result.action is MatchAction.NEW:
            counts.new += 1
        else:
            counts.kept += 1
        counts.review += len(result.review)
        return True

    async def _is_own(self, record: SourceRecord) -> bool:
        if self.own_writes is not None and self.own_writes.is_own(record.system, record.id, record.version):
            return True
        return await self.state.is_own_write(record.system.value, record.id, record.version)

    async def _forget(self, system: SystemName, record_id: str, *, relations: bool = False) -> None:
        connector = self.connectors[system]
        invalidate = getattr(connector, "invalidate", None)
        if invalidate is None:
            return  # no cache in front of this system: nothing to forget
        await invalidate(record_id)
        if relations:
            for relation, method in _RELATIONS.items():
                if hasattr(connector, method):
                    await connector.invalidate_relation(relation, record_id)  # type: ignore[attr-defined]


#: Marks a record that could not be read (distinct from None: "the system has no such record").
_UNREAD: Final = object()


class ChangeFeeds:
    """Pulls each system's change feed from its stored checkpoint and hands the events on.

    One pull per system at a time (a webhook-triggered pull and the poll share a lock), and
    the checkpoint moves only after the pull's events were handled, so a crash in between
    replays them (their dedup keys keep that harmless) instead of losing them.
    """

    def __init__(
        self,
        connectors: Mapping[SystemName, Connector],
        processor: ChangeProcessor,
        state: SyncState,
        *,
        margin_s: float = 30.0,
    ) -> None:
        self.connectors = connectors
        self.processor = processor
        self.state = state
        self.margin_s = margin_s
        self._locks = {system: asyncio.Lock() for system in connectors}

    def systems(self) -> list[SystemName]:
        """The systems whose connector offers a change feed."""
        return [s for s, c in self.connectors.items() if s in FEED_CHECKPOINTS and hasattr(c, "changes")]

    async def pull(self, system: SystemName) -> ChangeCounts:
        """One pull of `system`'s feed: the first ever only sets the checkpoint (tracking starts now)."""
        name = FEED_CHECKPOINTS[system]
        feed: Any = getattr(self.connectors[system], "changes")
        async with self._locks[system]:
            checkpoint = await self.state.checkpoint(name)
            started = datetime.now(UTC)
            batch = await feed(checkpoint.cursor if checkpoint is not None else None, margin_s=self.margin_s)
            events: Sequence[ChangeEvent] = batch.events
            if batch.resync:
                events = self._since_last_sync(events, checkpoint.details if checkpoint is not None else {})
                log.warning("change feed resynced", extra={"system": system.value, "count": len(events)})
            counts = await self.processor.process(events) if events else ChangeCounts()
            await self.state.save_checkpoint(name, system.value, batch.checkpoint,
                                             details={"synced_at": started.isoformat()})
        return counts

    def _since_last_sync(self, events: Sequence[ChangeEvent], details: Mapping[str, Any]) -> list[ChangeEvent]:
        """Of a full re-enumeration, the items changed since the last good sync (and every deletion)."""
        raw = details.get("synced_at")
        try:
            synced = datetime.fromisoformat(str(raw)) - timedelta(seconds=self.margin_s) if raw else None
        except ValueError:
            synced = None
        if synced is None:
            return list(events)
        return [e for e in events if e.changed_at is None or e.changed_at >= synced]


class OwnWriteLog:
    """Persists the versions the gateway writes (an `OwnWrites` listener), so an echo is known after a restart.

    Written in the background, in batches (one transaction for whatever piled up while
    the previous one ran), so a burst of writes costs the database a few transactions, not
    one per record; a write path never waits for it. In this process the in-memory
    `OwnWrites` answers first anyway. `aclose` writes what is still pending.
    """

    def __init__(self, state: SyncState) -> None:
        self.state = state
        self._pending: list[tuple[str, str, str | None]] = []
        self._flusher: asyncio.Task[None] | None = None

    def attach(self, own_writes: OwnWrites) -> None:
        if self.record not in own_writes.listeners:
            own_writes.listeners.append(self.record)

    def detach(self, own_writes: OwnWrites) -> None:
        if self.record in own_writes.listeners:
            own_writes.listeners.remove(self.record)

    def record(self, system: SystemName, record_id: str, version: str | None) -> None:
        self._pending.append((system.value, record_id, version))
        if self._flusher is not None and not self._flusher.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # outside an event loop (a synchronous test): kept for the next flush
        self._flusher = loop.create_task(self._flush())

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self.state.remember_own_writes(batch)
            except Exception as exc:  # noqa: BLE001 - losing these only costs a redundant re-match after a restart
                log.warning("could not persist own writes", extra={"count": len(batch), "error": type(exc).__name__})

    async def aclose(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self._flush()
