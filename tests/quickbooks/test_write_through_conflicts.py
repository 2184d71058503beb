"""A stale SyncToken during a write-through: merged when the other writer touched other attributes,
a ConflictError when it touched ours. Real HTTP to the QuickBooks simulator; the race is real: the
other writer's sparse update lands between our read and our write."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any


from connectors import RecordChanges, SourceRecord, SystemName, UpstreamLimits
from connectors.quickbooks import QuickBooksConnector
from resolvers.write_through import WriteStatus, WriteThrough
from tests.quickbooks.conftest import Qbo
from xref import AuditLog, LinkInfo, Outbox, XrefService

NOW = datetime.datetime(2026, 11, 23, tzinfo=datetime.UTC)


class RacedConnector:
    """The QuickBooks connector, with another writer's change landing just before our first update."""

    def __init__(self, inner: QuickBooksConnector, qbo: Qbo, their_change: dict[str, Any]) -> None:
        self.inner = inner
        self.system = inner.system
        self.conditional_writes = inner.conditional_writes
        self.unique_attributes = inner.unique_attributes
        self._qbo = qbo
        self._their_change = their_change
        self.updates = 0

    async def fetch(self, record_id: str) -> SourceRecord:
        return await self.inner.fetch(record_id)

    async def update(self, record_id: str, version: str | None, changes: RecordChanges) -> SourceRecord:
        self.updates += 1
        if self.updates == 1:
            current = self._qbo.call("GET", f"/customer/{record_id}").json()["Customer"]
            resp = self._qbo.call("POST", "/customer", json={
                "Id": record_id, "SyncToken": current["SyncToken"], "sparse": True, **self._their_change})
            assert resp.status_code == 200, resp.text
        return await self.inner.update(record_id, version, changes)


def _links(record_id: str) -> Sequence[LinkInfo]:
    return [LinkInfo(customer_id="c1", system=SystemName.QUICKBOOKS, record_id=record_id, confidence=1.0,
                     evidence={}, decided_by="test", created_at=NOW, updated_at=NOW)]


async def _write(qbo: Qbo, write_stores: tuple[XrefService, Outbox, AuditLog], their_change: dict[str, Any],
                 ours: RecordChanges) -> tuple[Any, dict[str, Any], RacedConnector]:
    created = qbo.create_customer(DisplayName="Harbour Books", PrimaryEmailAddr={"Address": "old@harbour.test"},
                                  PrimaryPhone={"FreeFormNumber": "(503) 555-0100"})
    connector = QuickBooksConnector(qbo.settings(), UpstreamLimits())
    raced = RacedConnector(connector, qbo, their_change)
    _, outbox, audit = write_stores
    try:
        writes = WriteThrough({SystemName.QUICKBOOKS: raced}, outbox, audit)  # type: ignore[dict-item]
        result = await writes.update("c1", _links(created["Id"]), ours, subject="test")
    finally:
        await connector.aclose()
    final = qbo.call("GET", f"/customer/{created['Id']}").json()["Customer"]
    return result, final, raced


async def test_a_stale_token_from_a_change_to_other_attributes_is_merged_and_applied(
    qbo: Qbo, write_stores: tuple[XrefService, Outbox, AuditLog],
) -> None:
    result, final, raced = await _write(
        qbo, write_stores, {"PrimaryPhone": {"FreeFormNumber": "(503) 555-0177"}}, RecordChanges(email="new@harbour.test"))

    assert [(o.status, o.error) for o in result.outcomes] == [(WriteStatus.APPLIED, None)]
    assert raced.updates == 2  # refused once (5010), re-read, applied on top
    assert final["PrimaryEmailAddr"]["Address"] == "new@harbour.test"  # ours
    assert final["PrimaryPhone"]["FreeFormNumber"] == "(503) 555-0177"  # theirs, kept
    [entry] = (await write_stores[2].history("c1", first=5)).entries
    assert entry.outcomes[f"quickbooks:{result.outcomes[0].record_id}"]["status"] == "APPLIED"


async def test_a_stale_token_from_a_change_to_the_same_attribute_is_a_conflict_and_writes_nothing(
    qbo: Qbo, write_stores: tuple[XrefService, Outbox, AuditLog],
) -> None:
    result, final, raced = await _write(
        qbo, write_stores, {"PrimaryEmailAddr": {"Address": "theirs@harbour.test"}}, RecordChanges(email="ours@harbour.test"))

    assert result.conflict is not None
    assert (result.conflict.attribute, result.conflict.system) == ("email", SystemName.QUICKBOOKS)
    assert (result.conflict.ours, result.conflict.theirs) == ("ours@harbour.test", "theirs@harbour.test")
    assert raced.updates == 1  # not retried over their value
    assert final["PrimaryEmailAddr"]["Address"] == "theirs@harbour.test"
    assert [o.status for o in result.outcomes] == [WriteStatus.FAILED]
