"""Write one customer change through to every linked system that holds the attribute.

Why it is shaped this way (architecture.md, "Writing a customer"):
- each system gets only the attributes the ownership policy lets it hold, concurrently,
  each guarded by its own version token;
- the version token is the one of the record as the gateway last read it (its cache,
  usually what the caller was just shown), so a write is one call per system; the
  system's answer becomes the cached copy for the next read or write. Where the guard
  costs a read (Teamwork has no conditional write) it is paid only for attributes that
  system publishes: an attribute it only consumes follows its publisher by policy;
- a stale token is not a failure by itself: the record is read again and the write
  retried, unless the other writer changed one of the attributes we are writing, which
  is a conflict for a person to decide (nothing is overwritten silently);
- a system that is down, slow or throttling gets the write later through the durable
  outbox (PENDING), so the caller is not held hostage by its slowest system;
- a system that refuses the write for good (FAILED) makes the whole change void: what
  was applied elsewhere is put back (compensated) and what was queued is dropped, so
  the systems never end up half-changed by a mutation that reports failure;
- while a record has queued writes, a newer write to it is queued behind them (the
  worker applies them merged, newest value last), so an old value never lands after a
  new one.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from connectors import Connector, ConnectorError, RecordChanges, SourceRecord, SystemName, VersionConflict
from resolvers.errors import error_code
from resolvers.ownership import DEFAULT_OWNERSHIP, OwnershipPolicy
from resolvers.write_values import changes_to_json, restore, set_attributes, value_to_json
from xref import AuditLog, LinkInfo, Outbox

log = logging.getLogger(__name__)

#: Ownership policy names for the attributes of RecordChanges.
_POLICY_NAME = {"person_name": "personName"}
#: Re-reads after a stale version token before giving up with a conflict.
MAX_STALE_RETRIES = 3


class WriteStatus(StrEnum):
    APPLIED = "APPLIED"
    PENDING = "PENDING"
    FAILED = "FAILED"
    #: Applied, then put back because another system failed the mutation.
    COMPENSATED = "COMPENSATED"
    #: Queued, then dropped because another system failed the mutation.
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class SystemOutcome:
    system: SystemName
    record_id: str
    status: WriteStatus
    attributes: tuple[str, ...]
    error: str | None = None
    code: str | None = None
    outbox_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system.value, "recordId": self.record_id, "status": self.status.value,
            "attributes": list(self.attributes), "error": self.error, "code": self.code, "outboxId": self.outbox_id,
        }


@dataclass(frozen=True)
class WriteConflict:
    """Another writer changed an attribute this mutation writes, since the value we based it on."""

    attribute: str
    system: SystemName
    record_id: str
    ours: Any
    theirs: Any


@dataclass
class WriteResult:
    customer_id: str
    mutation_id: str
    outcomes: list[SystemOutcome] = field(default_factory=list)
    conflict: WriteConflict | None = None
    audit_id: int | None = None

    @property
    def failed(self) -> bool:
        return self.conflict is not None or any(o.status is WriteStatus.FAILED for o in self.outcomes)


class OwnWrites:
    """What the gateway itself wrote recently, so a change notification echoing it is recognised.

    In memory, per process, with a time to live: an echo arrives seconds to minutes later.
    `listeners` are told of each write too (the gateway persists them, so an echo that
    arrives after a restart, or at another process, is still known: resolvers/change_events.py).
    """

    def __init__(self, ttl_s: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._seen: dict[tuple[SystemName, str, str | None], float] = {}
        #: Called with (system, record id, version) of every write recorded; must not block.
        self.listeners: list[Callable[[SystemName, str, str | None], None]] = []

    def record(self, record: SourceRecord) -> None:
        now = self._clock()
        self._seen[(record.system, record.id, record.version)] = now + self.ttl_s
        if len(self._seen) > 10_000:
            self._seen = {k: t for k, t in self._seen.items() if t > now}
        for listener in self.listeners:
            listener(record.system, record.id, record.version)

    def is_own(self, system: SystemName, record_id: str, version: str | None) -> bool:
        until = self._seen.get((system, record_id, version))
        return until is not None and until > self._clock()


@dataclass(frozen=True)
class _Target:
    link: LinkInfo
    changes: RecordChanges

    @property
    def key(self) -> tuple[SystemName, str]:
        return (self.link.system, self.link.record_id)


@dataclass
class _Attempt:
    target: _Target
    status: WriteStatus
    before: SourceRecord | None = None
    after: SourceRecord | None = None
    error: ConnectorError | None = None
    conflict: WriteConflict | None = None
    outbox_id: str | None = None


def _source(connector: Connector) -> Connector:
    """The connector under the read cache: a write must start from the system's current record."""
    inner = getattr(connector, "inner", None)
    return inner if inner is not None else connector


def _primary_links(links: Sequence[LinkInfo]) -> dict[SystemName, LinkInfo]:
    """Per system, the record most surely the customer's: highest link confidence, then the oldest link."""
    primary: dict[SystemName, LinkInfo] = {}
    for link in sorted(links, key=lambda k: (-k.confidence, k.created_at, k.record_id)):
        primary.setdefault(link.system, link)
    return primary


def changes_for(changes: RecordChanges, system: SystemName, linked: Sequence[SystemName],
                ownership: OwnershipPolicy) -> RecordChanges:
    """The part of `changes` that `system` receives under the ownership policy."""
    kept = {
        name: getattr(changes, name)
        for name in set_attributes(changes)
        if system in ownership.systems_to_write(_POLICY_NAME.get(name, name), linked)
    }
    return RecordChanges(**kept)


class WriteThrough:
    """Applies customer changes to the linked systems (see the module docstring for the rules)."""

    def __init__(
        self,
        connectors: Mapping[SystemName, Connector],
        outbox: Outbox,
        audit: AuditLog,
        *,
        ownership: OwnershipPolicy = DEFAULT_OWNERSHIP,
        own_writes: OwnWrites | None = None,
        on_written: Callable[[SystemName, str], Awaitable[None]] | None = None,
    ) -> None:
        self.connectors = connectors
        self.outbox = outbox
        self.audit = audit
        self.ownership = ownership
        self.own_writes = own_writes or OwnWrites()
        self._on_written = on_written

    def targets(self, links: Sequence[LinkInfo], changes: RecordChanges) -> list[_Target]:
        """Each linked record (of a system we can reach) with the part of `changes` it receives.

        A customer may hold two records in one system (a duplicate nobody merged yet). Both get
        the change, except attributes the system keeps unique (a QuickBooks customer name): those
        go to the customer's primary record there, as the system would refuse a second copy.
        """
        linked = sorted({link.system for link in links if link.system in self.connectors})
        primary = _primary_links(links)
        targets = []
        for link in links:
            if link.system not in self.connectors:
                continue
            part = changes_for(changes, link.system, linked, self.ownership)
            if link is not primary[link.system]:
                unique = self.connectors[link.system].unique_attributes
                part = RecordChanges(**{n: getattr(part, n) for n in set_attributes(part) if n not in unique})
            if not part.is_empty():
                targets.append(_Target(link, part))
        return targets

    async def update(
        self,
        customer_id: str,
        links: Sequence[LinkInfo],
        changes: RecordChanges,
        *,
        subject: str,
        mutation: str = "updateCustomer",
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> WriteResult:
        mutation_id = uuid.uuid4().hex
        targets = self.targets(links, changes)
        behind = await self.outbox.records_with_pending([(t.link.system.value, t.link.record_id) for t in targets])
        attempts = await asyncio.gather(*(
            self._write(t, customer_id, mutation_id, queued=(t.link.system.value, t.link.record_id) in behind)
            for t in targets
        ))
        result = WriteResult(customer_id=customer_id, mutation_id=mutation_id)
        conflict = next((a.conflict for a in attempts if a.conflict is not None), None)
        if conflict is not None or any(a.status is WriteStatus.FAILED for a in attempts):
            await self._void(attempts, customer_id, mutation_id)
            result.conflict = conflict
        result.outcomes = [self._outcome(a) for a in attempts]
        entry = await self.audit.record(
            subject=subject, mutation=mutation, mutation_id=mutation_id, customer_id=customer_id,
            idempotency_key=idempotency_key, request_id=request_id,
            changes=_audit_changes(changes, attempts),
            outcomes={f"{o.system.value}:{o.record_id}": o.to_json() for o in result.outcomes},
        )
        result.audit_id = entry.id
        return result

    # --- one system --------------------------------------------------------------------------

    async def _write(self, target: _Target, customer_id: str, mutation_id: str, *, queued: bool) -> _Attempt:
        """`queued`: the record has pending writes, which this one must not overtake."""
        system, record_id = target.key
        if queued:
            return await self._queue(target, customer_id, mutation_id, None, "queued behind earlier pending writes")
        connector = self.connectors[system]
        attributes = set_attributes(target.changes)
        guarded = self._guarded(connector, target)
        try:
            # The record as the gateway last saw it (the read cache: usually what the caller was
            # shown), fetched when not cached. A stale copy costs nothing extra where the system
            # checks versions itself: its refusal sends us to the fresh re-read below.
            base = await connector.fetch(record_id)
            for _ in range(MAX_STALE_RETRIES + 1):
                try:
                    after = await connector.update(record_id, base.version if guarded else None, target.changes)
                except VersionConflict:
                    current = await _source(connector).fetch(record_id)
                    touched = [a for a in attributes if getattr(current, a) != getattr(base, a)]
                    if touched:
                        attribute = touched[0]
                        return _Attempt(target, WriteStatus.FAILED, current, conflict=WriteConflict(
                            attribute, system, record_id,
                            ours=getattr(target.changes, attribute), theirs=getattr(current, attribute),
                        ))
                    base = current  # the other writer changed other attributes: ours still apply on top
                    continue
                await self._written(after)
                return _Attempt(target, WriteStatus.APPLIED, base, after)
            raise VersionConflict(system, f"record {record_id} kept changing while we wrote it")
        except ConnectorError as exc:
            if exc.transient:
                return await self._queue(target, customer_id, mutation_id, exc, str(exc))
            return _Attempt(target, WriteStatus.FAILED, error=exc)

    def _guarded(self, connector: Connector, target: _Target) -> bool:
        """Whether the write carries the record's version token.

        Always where the system checks it itself (free). Where the guard costs a read first
        (Teamwork), only when the write includes an attribute the system publishes: a change
        a person made there is authoritative and must not be overwritten unseen. An attribute
        the system only consumes follows its publisher by policy, so the gateway's value is
        the one it should hold whatever it holds now.
        """
        if connector.conditional_writes:
            return True
        system = target.link.system
        return any(
            system in self.ownership.publishers(_POLICY_NAME.get(name, name))
            for name in set_attributes(target.changes)
        )

    async def _queue(self, target: _Target, customer_id: str, mutation_id: str,
                     error: ConnectorError | None, reason: str) -> _Attempt:
        system, record_id = target.key
        entry = await self.outbox.enqueue(
            mutation_id=mutation_id, system=system.value, action="update", customer_id=customer_id,
            record_id=record_id, payload={"changes": changes_to_json(target.changes)},
        )
        log.info("write to %s %s queued (outbox %s): %s", system.value, record_id, entry.id, reason)
        return _Attempt(target, WriteStatus.PENDING, error=error, outbox_id=entry.id)

    async def _written(self, record: SourceRecord) -> None:
        self.own_writes.record(record)
        if self._on_written is not None:
            await self._on_written(record.system, record.id)

    # --- undo ----------------------------------------------------------------------------------

    async def _void(self, attempts: Sequence[_Attempt], customer_id: str, mutation_id: str) -> None:
        """Put back what was applied and drop what was queued: the mutation did not happen."""
        async def undo(attempt: _Attempt) -> None:
            if attempt.status is WriteStatus.PENDING and attempt.outbox_id is not None:
                if await self.outbox.drop(attempt.outbox_id):
                    attempt.status = WriteStatus.CANCELLED
                return
            if attempt.status is not WriteStatus.APPLIED or attempt.before is None or attempt.after is None:
                return
            system, record_id = attempt.target.key
            back = restore(attempt.before, set_attributes(attempt.target.changes))
            try:
                restored = await self.connectors[system].update(record_id, attempt.after.version, back)
                await self._written(restored)
            except ConnectorError as exc:
                # Still owed: the outbox puts it back when the system lets it (never lost).
                entry = await self.outbox.enqueue(
                    mutation_id=mutation_id, system=system.value, action="compensate", customer_id=customer_id,
                    record_id=record_id, payload={"changes": changes_to_json(back)},
                )
                log.warning("compensation of %s %s queued (outbox %s): %s", system.value, record_id, entry.id, exc)
            attempt.status = WriteStatus.COMPENSATED

        await asyncio.gather(*(undo(a) for a in attempts))

    @staticmethod
    def _outcome(attempt: _Attempt) -> SystemOutcome:
        system, record_id = attempt.target.key
        error = attempt.error
        message = error.message if error is not None else None
        if attempt.conflict is not None:
            message = f"{attempt.conflict.attribute} was changed in {system.value} by someone else"
        return SystemOutcome(
            system=system, record_id=record_id, status=attempt.status,
            attributes=set_attributes(attempt.target.changes), error=message,
            code=error_code(error) if error is not None else ("CONFLICT" if attempt.conflict else None),
            outbox_id=attempt.outbox_id,
        )


def _audit_changes(changes: RecordChanges, attempts: Sequence[_Attempt]) -> list[dict[str, Any]]:
    """Per attribute: the value asked for, and what each system held before (where we read it)."""
    out = []
    for name in set_attributes(changes):
        before = {
            f"{a.target.link.system.value}:{a.target.link.record_id}": value_to_json(getattr(a.before, name))
            for a in attempts if a.before is not None and name in set_attributes(a.target.changes)
        }
        out.append({"attribute": name, "before": before, "after": value_to_json(getattr(changes, name))})
    return out
