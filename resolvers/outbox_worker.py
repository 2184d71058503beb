"""Applies queued writes (the durable outbox) once their system takes them again.

Why merged per record: while a record has queued writes, newer writes to it queue behind
them (see write_through.py). Applying them one by one in order would be correct but slow
and fragile under retries; applying all pending writes of a record as one change, newest
value last, is the same end state in one call, and it does not matter which of them a
worker happens to claim first.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from connectors import Connector, ConnectorError, RecordChanges, SourceRecord, SystemName, VersionConflict
from resolvers.write_values import changes_from_json, changes_to_json, merged, value_to_json
from xref import AuditLog, Outbox, OutboxEntry
from xref.outbox import backoff_delay

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxPolicy:
    """How hard the worker tries: backoff between tries, and when it gives up (dead letter)."""

    batch: int = 20
    lease_s: float = 60.0
    base_delay_s: float = 1.0
    max_delay_s: float = 300.0
    max_attempts: int = 25
    stale_retries: int = 3


@dataclass
class WorkerPass:
    claimed: int = 0
    applied: int = 0
    rescheduled: int = 0
    dead: int = 0


class OutboxWorker:
    def __init__(
        self,
        outbox: Outbox,
        connectors: Mapping[SystemName, Connector],
        audit: AuditLog,
        *,
        policy: OutboxPolicy | None = None,
        on_written: Callable[[SourceRecord], Awaitable[None]] | None = None,
        jitter: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.connectors = connectors
        self.audit = audit
        self.policy = policy or OutboxPolicy()
        self._on_written = on_written
        self._jitter = jitter or random.Random()  # noqa: S311 - backoff jitter, not cryptography

    async def run_once(self, stop: asyncio.Event | None = None) -> WorkerPass:
        """Claim what is due and try each record once; when `stop` is set, hand the rest back."""
        done = WorkerPass()
        entries = await self.outbox.claim_due(self.policy.batch, self.policy.lease_s)
        done.claimed = len(entries)
        seen: set[tuple[str, str | None]] = set()
        try:
            for entry in entries:
                if stop is not None and stop.is_set():
                    await self.outbox.release([e.id for e in entries])
                    break
                key = (entry.system, entry.record_id)
                if key in seen:
                    continue  # applied together with an earlier entry of the same record
                seen.add(key)
                await self._apply(entry, done)
        except asyncio.CancelledError:
            # Stopped mid-pass (a gateway shutting down): what this pass still holds goes back
            # at once, so the next gateway need not wait out the lease. Applied or rescheduled
            # entries are no longer pending-and-leased, so releasing all of them is safe.
            await asyncio.shield(self.outbox.release([e.id for e in entries]))
            raise
        return done

    async def run_forever(self, interval_s: float, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; a failing pass is logged, never fatal (the entries stay queued)."""
        while not stop.is_set():
            try:
                done = await self.run_once(stop)
            except Exception:
                log.exception("outbox pass failed; trying again in %.1fs", interval_s)
                done = WorkerPass()
            if done.claimed:
                continue  # there may be more due right away
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                pass

    async def _apply(self, entry: OutboxEntry, done: WorkerPass) -> None:
        group = await self.outbox.pending_for_record(entry.system, entry.record_id or "")
        if not any(e.id == entry.id for e in group):
            group = [entry, *group]
        system = SystemName(entry.system)
        connector = self.connectors.get(system)
        ids = [e.id for e in group]
        if connector is None or entry.record_id is None:
            for entry_id in ids:
                await self.outbox.dead_letter(entry_id, f"no connector for {entry.system} or no record id")
            done.dead += len(ids)
            return
        changes = RecordChanges()
        for member in group:
            changes = merged(changes, changes_from_json(member.payload.get("changes") or {}))
        try:
            written = await self._write(connector, entry.record_id, changes)
        except ConnectorError as exc:
            attempts = max(e.attempts for e in group) + 1
            if exc.transient and attempts < self.policy.max_attempts:
                delay = backoff_delay(attempts, self.policy.base_delay_s, self.policy.max_delay_s, self._jitter)
                retry_after = getattr(exc, "retry_after", None)
                if isinstance(retry_after, int | float):
                    delay = max(delay, float(retry_after))
                for entry_id in ids:
                    await self.outbox.reschedule(entry_id, str(exc), delay)
                done.rescheduled += len(ids)
            else:
                for entry_id in ids:
                    await self.outbox.dead_letter(entry_id, str(exc))
                done.dead += len(ids)
                log.error("outbox gave up on %s %s after %d tries: %s", system.value, entry.record_id, attempts, exc)
                await self._audit(group, changes, "DEAD", str(exc))
            return
        for entry_id in ids:
            await self.outbox.mark_applied(entry_id)
        done.applied += len(ids)
        if self._on_written is not None:
            await self._on_written(written)
        await self._audit(group, changes, "APPLIED", None)

    async def _write(self, connector: Connector, record_id: str, changes: RecordChanges) -> SourceRecord:
        """The queued intent applied over the record as it is now (the mutation already decided it)."""
        source = getattr(connector, "inner", None) or connector
        for _ in range(self.policy.stale_retries):
            current = await source.fetch(record_id)
            try:
                return await connector.update(record_id, current.version, changes)
            except VersionConflict:
                continue  # changed between our read and our write: read again
        current = await source.fetch(record_id)
        return await connector.update(record_id, current.version, changes)

    async def _audit(self, group: Sequence[OutboxEntry], changes: RecordChanges, status: str, error: str | None) -> None:
        first = group[0]
        await self.audit.record(
            subject="outbox", mutation="outbox", mutation_id=first.mutation_id, customer_id=first.customer_id,
            changes=[{"attribute": name, "before": None, "after": value_to_json(value)}
                     for name, value in changes_to_json(changes).items()],
            outcomes={f"{first.system}:{first.record_id}": {
                "status": status, "error": error, "outboxIds": [e.id for e in group],
                "mutations": sorted({e.mutation_id for e in group}),
            }},
        )
