"""A stopping worker hands its claimed writes back at once, so the next gateway need not wait out the lease."""

from __future__ import annotations

import asyncio

from connectors import RecordChanges, SourceRecord, SystemName
from resolvers.outbox_worker import OutboxWorker
from tests.support.fakes import FakeConnector, make_record
from xref import AuditLog, Outbox, XrefService

QB = SystemName.QUICKBOOKS


class Held(FakeConnector):
    """Its writes wait until `gate` opens: a system answering slowly when the gateway stops."""

    def __init__(self) -> None:
        super().__init__(QB, [make_record(QB, "1"), make_record(QB, "2")])
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.writes: list[str] = []

    async def update(self, record_id: str, version: str | None, changes: RecordChanges) -> SourceRecord:
        self.entered.set()
        await self.gate.wait()
        self.writes.append(record_id)
        return await super().update(record_id, version, changes)


async def _queued(outbox: Outbox, *record_ids: str) -> None:
    for record_id in record_ids:
        await outbox.enqueue(mutation_id="m", system="quickbooks", action="update", customer_id="c",
                             record_id=record_id, payload={"changes": {"name": f"New {record_id}"}})


async def test_a_pass_cancelled_mid_write_releases_its_claims(write_stores: tuple[XrefService, Outbox, AuditLog]) -> None:
    _, outbox, audit = write_stores
    await _queued(outbox, "1", "2")
    qbo = Held()
    worker = OutboxWorker(outbox, {QB: qbo}, audit)
    task = asyncio.create_task(worker.run_once())
    await qbo.entered.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(await outbox.claim_due(10, lease_s=60)) == 2  # both due again now, not in 60 s


async def test_a_stop_between_records_hands_the_rest_back_untried(
    write_stores: tuple[XrefService, Outbox, AuditLog],
) -> None:
    _, outbox, audit = write_stores
    await _queued(outbox, "1", "2")
    qbo = Held()
    stop = asyncio.Event()
    task = asyncio.create_task(OutboxWorker(outbox, {QB: qbo}, audit).run_once(stop))
    await qbo.entered.wait()
    stop.set()
    qbo.gate.set()
    done = await task
    assert (qbo.writes, done.applied) == (["1"], 1)
    [left] = await outbox.claim_due(10, lease_s=60)
    assert (left.record_id, left.attempts) == ("2", 0)
