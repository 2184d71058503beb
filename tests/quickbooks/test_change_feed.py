"""The QuickBooks connector's change feed (CDC) against the simulator."""

from __future__ import annotations

from datetime import datetime

from connectors import ChangeKind, UpstreamLimits
from connectors.quickbooks import QuickBooksConnector
from tests.quickbooks.conftest import Qbo


async def test_cdc_starts_from_now_then_returns_changed_customers_with_a_checkpoint_behind_qbo_time(qbo: Qbo) -> None:
    before = qbo.create_customer(DisplayName="Harbour Tiles")
    connector = QuickBooksConnector(qbo.settings(), UpstreamLimits())
    try:
        start = await connector.changes(None, margin_s=30)
        assert start.events == ()
        qbo.admin("PATCH", f"/customers/{before['Id']}", {"PrimaryEmailAddr": {"Address": "ap@harbour.example"}})

        batch = await connector.changes(start.checkpoint, margin_s=30)
    finally:
        await connector.aclose()

    (event,) = [e for e in batch.events if e.record_id == before["Id"]]
    assert event.kind is ChangeKind.UPDATED and event.record is not None
    assert event.record.email == "ap@harbour.example" and event.version == event.record.version
    # The next round asks again from 30 s before QuickBooks' clock: the change is seen again (same key).
    assert datetime.fromisoformat(batch.checkpoint) <= datetime.fromisoformat(start.checkpoint)
