"""The durable outbox: writes to source systems that no system has confirmed yet.

A mutation whose write to one system failed transiently leaves an operation here; workers
in any gateway process claim due operations under a lease, try them, and report back
(applied, retry later, or dead). Nothing is lost across restarts, and two workers never
hold the same operation at once (architecture.md, "Writing a customer" and "Storage and scale").
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from sqlalchemy import ColumnElement, Select, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from xref._errors import XrefError
from xref._models import OutboxOperation, utcnow

__all__ = [
    "OUTBOX_STATUSES",
    "Outbox",
    "OutboxEntry",
    "OutboxError",
    "OutboxStatus",
    "UnknownOutboxEntry",
    "backoff_delay",
]

OutboxStatus = Literal["pending", "applied", "dead"]
OUTBOX_STATUSES: Final[tuple[OutboxStatus, ...]] = ("pending", "applied", "dead")
#: Most entries one `claim_due` or `entries` call returns.
MAX_BATCH: Final = 1000
#: 2**this already exceeds any sensible cap; stops the float from overflowing on absurd attempt counts.
_MAX_EXPONENT: Final = 62


class OutboxError(XrefError):
    """Base of the outbox's errors."""


class UnknownOutboxEntry(OutboxError, KeyError):
    """No outbox entry has this id (never existed, or dropped/purged)."""


def backoff_delay(attempts: int, base_s: float, cap_s: float, jitter: random.Random | None) -> float:
    """Seconds to wait before the next try after `attempts` failed ones: `base_s * 2**attempts`, at most `cap_s`.

    Full jitter (a uniform draw in [0, that]) spreads the retries of many operations that
    failed together (one system's outage), so they do not all return at once. `jitter=None`
    gives the ceiling itself, for callers and tests that want no randomness.
    """
    if attempts < 0 or base_s < 0 or cap_s < 0:
        raise ValueError(f"attempts, base_s and cap_s must be >= 0, got {attempts}, {base_s}, {cap_s}")
    ceiling = min(cap_s, base_s * 2.0 ** min(attempts, _MAX_EXPONENT))
    return ceiling if jitter is None else jitter.uniform(0.0, ceiling)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An outbox operation as it stood when read (a snapshot, not a live row)."""

    id: str
    mutation_id: str
    customer_id: str | None
    system: str
    record_id: str | None
    action: str
    payload: Mapping[str, Any]
    base_version: str | None
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    claimed_until: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


def _entry(row: OutboxOperation) -> OutboxEntry:
    return OutboxEntry(
        id=row.id, mutation_id=row.mutation_id, customer_id=row.customer_id, system=row.system,
        record_id=row.record_id, action=row.action, payload=dict(row.payload), base_version=row.base_version,
        status=_status(row.status), attempts=row.attempts, next_attempt_at=row.next_attempt_at,
        claimed_until=row.claimed_until, last_error=row.last_error, created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _status(value: str) -> OutboxStatus:
    for status in OUTBOX_STATUSES:
        if value == status:
            return status
    raise OutboxError(f"unknown outbox status {value!r} in the database")


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_BATCH:
        raise ValueError(f"limit must be between 1 and {MAX_BATCH}, got {limit}")


def _queue_order(query: Select[Any]) -> Select[Any]:
    return query.order_by(OutboxOperation.next_attempt_at, OutboxOperation.created_at, OutboxOperation.id)


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        OutboxOperation.status == "pending",
        OutboxOperation.next_attempt_at <= now,
        or_(OutboxOperation.claimed_until.is_(None), OutboxOperation.claimed_until <= now),
    )


async def _claim_target(session: AsyncSession, now: datetime, limit: int) -> ColumnElement[bool]:
    """Which rows the claiming UPDATE may touch: the dialect-specific half of `claim_due`.

    PostgreSQL: lock up to `limit` due rows with SKIP LOCKED, so concurrent workers take
    disjoint rows instead of queueing behind each other (the locks last until commit).
    SQLite holds the database write lock for the whole UPDATE, so choosing the rows in a
    subquery of that same UPDATE is already atomic; it has no FOR UPDATE.
    """
    candidates = _queue_order(select(OutboxOperation.id).where(_due(now))).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        ids = list(await session.scalars(candidates.with_for_update(skip_locked=True)))
        return OutboxOperation.id.in_(ids)
    return OutboxOperation.id.in_(candidates.scalar_subquery())


class Outbox:
    """Durable queue of source writes, shared by every gateway process on the same database.

    Every method is its own transaction and returns `OutboxEntry` snapshots. Time-dependent
    methods take `now` (UTC-aware) so tests and callers can use their own clock.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def enqueue(
        self,
        *,
        mutation_id: str,
        system: str,
        action: str,
        payload: Mapping[str, Any],
        customer_id: str | None = None,
        record_id: str | None = None,
        base_version: str | None = None,
        delay_s: float = 0.0,
        now: datetime | None = None,
    ) -> OutboxEntry:
        """Add a pending operation, due after `delay_s` (0: at once).

        `payload` must be JSON-ready (the canonical changes, already serialized by the caller).
        """
        if delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {delay_s}")
        now = now or utcnow()
        row = OutboxOperation(
            id=str(uuid.uuid4()), mutation_id=mutation_id, customer_id=customer_id, system=system,
            record_id=record_id, action=action, payload=dict(payload), base_version=base_version,
            status="pending", attempts=0, next_attempt_at=now + timedelta(seconds=delay_s),
            claimed_until=None, last_error=None, created_at=now, updated_at=now,
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return _entry(row)

    async def claim_due(self, limit: int, lease_s: float, now: datetime | None = None) -> list[OutboxEntry]:
        """Take up to `limit` due pending operations for `lease_s` seconds, oldest due first.

        No other claimer gets them until the lease runs out; a worker that dies simply
        lets it run out. So `lease_s` must exceed the time one try can take (the source
        timeout), or a slow try may overlap a second worker's.
        """
        _check_limit(limit)
        if lease_s <= 0:
            raise ValueError(f"lease_s must be > 0, got {lease_s}")
        now = now or utcnow()
        async with self._sessions.begin() as session:
            target = await _claim_target(session, now, limit)
            claimed = await session.scalars(
                update(OutboxOperation)
                # The due condition again: the compare-and-set that makes a lost race claim nothing.
                .where(target, _due(now))
                .values(claimed_until=now + timedelta(seconds=lease_s), updated_at=now)
                .returning(OutboxOperation)
                .execution_options(synchronize_session=False)
            )
            entries = [_entry(row) for row in claimed]
        # RETURNING has no order.
        return sorted(entries, key=lambda e: (e.next_attempt_at, e.created_at, e.id))

    async def mark_applied(self, entry_id: str, now: datetime | None = None) -> OutboxEntry:
        """The source confirmed the write: the entry is done for good (kept until `purge_applied`).

        Accepted from any state: it reports a fact, even about an entry someone dead-lettered meanwhile.
        """
        now = now or utcnow()
        entry = await self._transition(
            entry_id, None, status="applied", claimed_until=None, updated_at=now,
        )
        return entry if entry is not None else await self._require(entry_id)

    async def reschedule(self, entry_id: str, error: str, delay_s: float, now: datetime | None = None) -> OutboxEntry:
        """A try failed transiently: count it, record why, release the lease, try again in `delay_s`.

        Only a pending entry changes; an entry already applied or dead (another worker got
        it after this one's lease ran out, or a person acted) is returned unchanged, so a
        late failure never reopens finished work.
        """
        if delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {delay_s}")
        now = now or utcnow()
        entry = await self._transition(
            entry_id, ("pending",), attempts=OutboxOperation.attempts + 1,
            next_attempt_at=now + timedelta(seconds=delay_s), claimed_until=None, last_error=error, updated_at=now,
        )
        return entry if entry is not None else await self._require(entry_id)

    async def release(self, entry_ids: Sequence[str]) -> int:
        """Hand leased pending entries back untried (a worker stopping mid-pass): due again at once
        for any worker, instead of waiting out a lease nobody is using. The attempt count stays."""
        if not entry_ids:
            return 0
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(OutboxOperation)
                .where(OutboxOperation.id.in_(list(entry_ids)), OutboxOperation.status == "pending")
                .values(claimed_until=None).execution_options(synchronize_session=False)
            )
        return int(getattr(result, "rowcount", 0))

    async def dead_letter(self, entry_id: str, error: str, now: datetime | None = None) -> OutboxEntry:
        """Give up on a pending entry (permanent failure or too many tries); `retry` revives it.

        Like `reschedule`, returns an applied (or already dead) entry unchanged.
        """
        now = now or utcnow()
        entry = await self._transition(
            entry_id, ("pending",), status="dead", claimed_until=None, last_error=error, updated_at=now,
        )
        return entry if entry is not None else await self._require(entry_id)

    async def retry(self, entry_id: str, now: datetime | None = None) -> OutboxEntry:
        """Make a dead or pending entry due at once with a fresh attempt count (an operator's "try again").

        A live lease is kept: the worker holding it is still trying. An applied entry
        cannot be retried (OutboxError): that would write the change twice.
        """
        now = now or utcnow()
        entry = await self._transition(
            entry_id, ("pending", "dead"), status="pending", attempts=0, next_attempt_at=now, updated_at=now,
        )
        if entry is None:
            await self._require(entry_id)
            raise OutboxError(f"outbox entry {entry_id} is already applied")
        return entry

    async def drop(self, entry_id: str) -> bool:
        """Delete an entry whatever its state; False when there was none. The change is then never written."""
        async with self._sessions.begin() as session:
            result = await session.execute(delete(OutboxOperation).where(OutboxOperation.id == entry_id))
        return bool(getattr(result, "rowcount", 0))

    async def get(self, entry_id: str) -> OutboxEntry | None:
        async with self._sessions() as session:
            row = await session.get(OutboxOperation, entry_id)
            return _entry(row) if row is not None else None

    async def entries(
        self,
        status: OutboxStatus | None = None,
        customer_id: str | None = None,
        *,
        mutation_id: str | None = None,
        limit: int = 100,
    ) -> list[OutboxEntry]:
        """Entries matching every filter given, oldest created first, at most `limit`."""
        _check_limit(limit)
        conditions: list[ColumnElement[bool]] = []
        if status is not None:
            conditions.append(OutboxOperation.status == _status(status))
        if customer_id is not None:
            conditions.append(OutboxOperation.customer_id == customer_id)
        if mutation_id is not None:
            conditions.append(OutboxOperation.mutation_id == mutation_id)
        async with self._sessions() as session:
            rows = await session.scalars(
                select(OutboxOperation).where(*conditions)
                .order_by(OutboxOperation.created_at, OutboxOperation.id).limit(limit)
            )
            return [_entry(row) for row in rows]

    async def pending_for_customer(self, customer_id: str) -> list[OutboxEntry]:
        """Every pending operation of one customer, in queue order: the systems to show as PENDING."""
        async with self._sessions() as session:
            rows = await session.scalars(_queue_order(select(OutboxOperation).where(
                OutboxOperation.customer_id == customer_id, OutboxOperation.status == "pending",
            )))
            return [_entry(row) for row in rows]

    async def pending_for_record(self, system: str, record_id: str) -> list[OutboxEntry]:
        """Pending operations on one record, oldest first: a newer write queues behind them, and the
        worker applies them together (merged, newest value last)."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(OutboxOperation)
                .where(OutboxOperation.system == system, OutboxOperation.record_id == record_id,
                       OutboxOperation.status == "pending")
                .order_by(OutboxOperation.created_at, OutboxOperation.id)
            )
            return [_entry(row) for row in rows]

    async def records_with_pending(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (system, record id) have pending operations, in one query: a write to
        several records asks once before it starts."""
        if not keys:
            return set()
        async with self._sessions() as session:
            rows = await session.execute(
                select(OutboxOperation.system, OutboxOperation.record_id).distinct()
                .where(OutboxOperation.status == "pending",
                       or_(*(and_(OutboxOperation.system == system, OutboxOperation.record_id == record_id)
                             for system, record_id in keys)))
            )
            return {(str(system), str(record_id)) for system, record_id in rows}

    async def counts(self) -> dict[OutboxStatus, int]:
        """Entries per status, every status present (0 when none)."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(OutboxOperation.status, func.count()).group_by(OutboxOperation.status)
            )
            found = {status: int(count) for status, count in rows}
        return {status: found.get(status, 0) for status in OUTBOX_STATUSES}

    async def purge_applied(self, older_than: datetime) -> int:
        """Delete applied entries last updated before `older_than` (a UTC time, not an age); returns how many."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(OutboxOperation).where(
                    OutboxOperation.status == "applied", OutboxOperation.updated_at < older_than
                )
            )
        return int(getattr(result, "rowcount", 0))

    async def _transition(
        self, entry_id: str, from_statuses: tuple[OutboxStatus, ...] | None, **values: Any
    ) -> OutboxEntry | None:
        """Update the entry if its status is one of `from_statuses` (None: any); None when it did not change.

        One guarded UPDATE, so the check and the change cannot be split by another worker's write.
        """
        conditions = [OutboxOperation.id == entry_id]
        if from_statuses is not None:
            conditions.append(OutboxOperation.status.in_(from_statuses))
        async with self._sessions.begin() as session:
            row = await session.scalar(
                update(OutboxOperation).where(*conditions).values(**values)
                .returning(OutboxOperation).execution_options(synchronize_session=False)
            )
            return _entry(row) if row is not None else None

    async def _require(self, entry_id: str) -> OutboxEntry:
        entry = await self.get(entry_id)
        if entry is None:
            raise UnknownOutboxEntry(entry_id)
        return entry
