"""Change tracking state in the xref database: feed checkpoints, handled deliveries, the gateway's own writes.

Kept in the database (not in memory) so a restarted gateway resumes each feed where it
stopped, still recognises a delivery it handled before, and still knows an echo of a
write it made just before it went down. Every process on the database shares it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from xref._sync_models import OwnWrite, SyncCheckpoint, SeenDelivery
from xref._models import utcnow

__all__ = ["Checkpoint", "SyncState", "dedup_hash", "own_write_hash"]

#: Keys per `IN (...)` query (well under SQLite's bound-parameter limit).
_CHUNK: Final = 500


def dedup_hash(key: str) -> str:
    """The stored form of a dedup key: fixed length whatever the system put in it."""
    return hashlib.sha256(key.encode()).hexdigest()


def own_write_hash(system: str, record_id: str, version: str | None) -> str:
    return hashlib.sha256(f"{system}\x1f{record_id}\x1f{version or ''}".encode()).hexdigest()


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    name: str
    system: str
    cursor: str | None
    expires_at: datetime | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None


class SyncState:
    """Checkpoints, dedup keys (with expiry) and own-write versions (with expiry).

    `dedup_ttl_s` must outlast the systems' redelivery window (Graph retries for 4 h,
    Teamwork hourly for 3 h, Intuit with growing delays): a key forgotten earlier lets a
    late retry through once more (harmless, only repeated work).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        dedup_ttl_s: float = 7 * 86400.0,
        own_write_ttl_s: float = 3600.0,
    ) -> None:
        if dedup_ttl_s <= 0 or own_write_ttl_s <= 0:
            raise ValueError("dedup_ttl_s and own_write_ttl_s must be > 0")
        self._sessions = sessions
        self._dedup_ttl = timedelta(seconds=dedup_ttl_s)
        self._own_ttl = timedelta(seconds=own_write_ttl_s)

    # --- checkpoints ---------------------------------------------------------------------------

    async def checkpoint(self, name: str) -> Checkpoint | None:
        async with self._sessions() as session:
            row = await session.get(SyncCheckpoint, name)
        if row is None:
            return None
        return Checkpoint(row.name, row.system, row.cursor, row.expires_at, dict(row.details or {}), row.updated_at)

    async def save_checkpoint(
        self,
        name: str,
        system: str,
        cursor: str | None,
        *,
        expires_at: datetime | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Insert or replace the checkpoint `name`."""
        values = {"system": system, "cursor": cursor, "expires_at": expires_at, "details": dict(details or {}),
                  "updated_at": utcnow()}
        for _ in range(2):
            async with self._sessions.begin() as session:
                done = await session.execute(update(SyncCheckpoint).where(SyncCheckpoint.name == name).values(**values))
                if getattr(done, "rowcount", 0):
                    return
            try:
                async with self._sessions.begin() as session:
                    await session.execute(insert(SyncCheckpoint).values(name=name, **values))
                return
            except IntegrityError:
                continue  # another process inserted it between our update and insert: update again

    async def clear_checkpoint(self, name: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(SyncCheckpoint).where(SyncCheckpoint.name == name))

    # --- handled deliveries ---------------------------------------------------------------------

    async def seen(self, keys: Sequence[str], now: datetime | None = None) -> set[str]:
        """The dedup keys (as given, not hashed) already handled and not yet expired."""
        now = now or utcnow()
        by_hash = {dedup_hash(key): key for key in keys}
        found: set[str] = set()
        async with self._sessions() as session:
            for chunk in _chunks(list(by_hash)):
                rows = await session.execute(
                    select(SeenDelivery.key).where(SeenDelivery.key.in_(chunk), SeenDelivery.expires_at > now)
                )
                found.update(by_hash[h] for h in rows.scalars())
        return found

    async def mark_seen(self, system: str, keys: Sequence[str], now: datetime | None = None) -> None:
        """Record `keys` as handled for `dedup_ttl_s` from now (an existing key gets the new expiry)."""
        now = now or utcnow()
        hashes = list(dict.fromkeys(dedup_hash(key) for key in keys))
        expires = now + self._dedup_ttl
        await self._upsert_keys(SeenDelivery, hashes, {"system": system, "seen_at": now, "expires_at": expires})

    # --- the gateway's own writes -------------------------------------------------------------------

    async def remember_own_writes(self, writes: Sequence[tuple[str, str, str | None]], now: datetime | None = None) -> None:
        """(system, record id, version) of records the gateway wrote; known as own for `own_write_ttl_s`.

        One transaction for the whole batch (the write path hands them over in bursts).
        """
        now = now or utcnow()
        expires = now + self._own_ttl
        rows = {own_write_hash(system, record_id, version): {"system": system, "record_id": record_id[:128]}
                for system, record_id, version in writes}
        for chunk in _chunks(list(rows)):
            for _ in range(3):
                try:
                    async with self._sessions.begin() as session:
                        existing = set((await session.execute(
                            select(OwnWrite.key).where(OwnWrite.key.in_(chunk)))).scalars())
                        if existing:
                            await session.execute(
                                update(OwnWrite).where(OwnWrite.key.in_(existing)).values(expires_at=expires))
                        fresh = [{"key": h, **rows[h], "expires_at": expires} for h in chunk if h not in existing]
                        if fresh:
                            await session.execute(insert(OwnWrite), fresh)
                    break
                except IntegrityError:
                    continue  # a concurrent writer inserted one of them: the next round updates it

    async def is_own_write(self, system: str, record_id: str, version: str | None, now: datetime | None = None) -> bool:
        now = now or utcnow()
        async with self._sessions() as session:
            row = await session.execute(select(OwnWrite.key).where(
                OwnWrite.key == own_write_hash(system, record_id, version), OwnWrite.expires_at > now
            ))
            return row.first() is not None

    # --- housekeeping -------------------------------------------------------------------------------

    async def purge_expired(self, now: datetime | None = None) -> int:
        """Delete expired dedup keys and own-write versions; returns how many rows went."""
        now = now or utcnow()
        async with self._sessions.begin() as session:
            a = await session.execute(delete(SeenDelivery).where(SeenDelivery.expires_at <= now))
            b = await session.execute(delete(OwnWrite).where(OwnWrite.expires_at <= now))
        return int(getattr(a, "rowcount", 0)) + int(getattr(b, "rowcount", 0))

    async def _upsert_keys(self, model: type[SeenDelivery], hashes: Sequence[str], values: Mapping[str, Any]) -> None:
        """Insert each key, or refresh the row that has it (portable: no dialect-specific upsert)."""
        for chunk in _chunks(list(hashes)):
            for _ in range(3):
                try:
                    async with self._sessions.begin() as session:
                        existing = set((await session.execute(select(model.key).where(model.key.in_(chunk)))).scalars())
                        if existing:
                            await session.execute(update(model).where(model.key.in_(existing)).values(**values))
                        fresh = [h for h in chunk if h not in existing]
                        if fresh:
                            await session.execute(insert(model), [{"key": h, **values} for h in fresh])
                    break
                except IntegrityError:
                    continue  # a concurrent writer inserted one of them: the next round updates it
