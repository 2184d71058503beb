"""Opens the write side of the gateway: write-through, idempotency, outbox (and its worker), audit.

Why here: these are process concerns (which database, whether this process runs the
outbox worker, for how long keys live); the rules themselves live in resolvers/.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

from connectors import Connector, SourceRecord, SystemName
from gateway.config import Settings
from resolvers.mutations import WriteServices
from resolvers.outbox_worker import OutboxPolicy, OutboxWorker
from resolvers.write_through import OwnWrites, WriteThrough
from xref import AuditLog, IdempotencyStore, Outbox, XrefService

log = logging.getLogger(__name__)


def open_writes(settings: Settings, xref: XrefService, connectors: Mapping[SystemName, Connector],
                own_writes: OwnWrites | None = None) -> WriteServices:
    sessions = xref.sessions
    outbox = Outbox(sessions)
    audit = AuditLog(sessions)
    ownership = settings.ownership_policy()
    return WriteServices(
        write_through=WriteThrough(connectors, outbox, audit, ownership=ownership, own_writes=own_writes),
        idempotency=IdempotencyStore(sessions, ttl_s=settings.idempotency_ttl_s),
        outbox=outbox,
        audit=audit,
        ownership=ownership,
    )


def outbox_worker(settings: Settings, writes: WriteServices, connectors: Mapping[SystemName, Connector]) -> OutboxWorker:
    policy = settings.outbox
    own_writes = writes.write_through.own_writes

    async def written(record: SourceRecord) -> None:
        # The cached connectors keep their copies in step with their own writes (CachedConnector.update).
        own_writes.record(record)

    return OutboxWorker(
        writes.outbox, connectors, writes.audit, on_written=written,
        policy=OutboxPolicy(batch=policy.batch, lease_s=policy.lease_s, base_delay_s=policy.base_delay_s,
                            max_delay_s=policy.max_delay_s, max_attempts=policy.max_attempts),
    )


@contextlib.asynccontextmanager
async def running_outbox_worker(settings: Settings, writes: WriteServices | None,
                                connectors: Mapping[SystemName, Connector]) -> AsyncIterator[OutboxWorker | None]:
    """The outbox worker as a background task for the life of the app (when enabled)."""
    if writes is None or not settings.outbox.enabled:
        yield None
        return
    worker = outbox_worker(settings, writes, connectors)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(settings.outbox.interval_s, stop), name="c360-outbox-worker")
    try:
        yield worker
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=10)
        except TimeoutError:
            # wait_for cancelled it: the pass it was in hands its claimed writes back (run_once).
            log.warning("outbox worker did not stop within 10 s; cancelled, its claimed writes released")
