"""The SharePoint connector's change feed (Graph delta) and subscription calls, against the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors import ChangeKind, RecordChanges, RecordNotFound, SourceRejected
from connectors.sharepoint import SharePointConnector
from tests.sharepoint.conftest import AdminCall


async def test_the_first_pull_starts_from_now_and_later_pulls_return_what_changed(connector: SharePointConnector) -> None:
    start = await connector.changes(None)
    assert start.events == () and "token=" in start.checkpoint

    written = await connector.update("1", None, RecordChanges(phone="+1 415 555 0188"))
    batch = await connector.changes(start.checkpoint)

    (event,) = batch.events
    assert (event.record_id, event.kind) == ("1", ChangeKind.UPDATED)
    assert event.record is not None and event.record.phone == "+1 415 555 0188"
    assert event.version == written.version  # the version a write answered: how an echo is recognised
    assert (await connector.changes(batch.checkpoint)).events == ()


async def test_a_deleted_item_comes_as_a_deletion(connector: SharePointConnector) -> None:
    start = await connector.changes(None)
    await connector.client.request("DELETE", f"{connector._items}/2", ok=(204,))

    (event,) = (await connector.changes(start.checkpoint)).events

    assert (event.record_id, event.kind, event.record) == ("2", ChangeKind.DELETED, None)


async def test_an_expired_delta_token_resyncs_the_whole_list(connector: SharePointConnector, sp_admin: AdminCall) -> None:
    start = await connector.changes(None)
    sp_admin("POST", "/sharepoint/expire-delta-tokens")

    batch = await connector.changes(start.checkpoint)

    assert batch.resync
    assert len(batch.events) >= 3 and all(e.record is not None for e in batch.events)
    assert (await connector.changes(batch.checkpoint)).events == ()


async def test_a_subscription_needs_a_receiver_that_passes_the_handshake(connector: SharePointConnector) -> None:
    expires = datetime.now(UTC) + timedelta(hours=1)
    with pytest.raises(SourceRejected):  # nobody listens there: Graph's validation fails, no subscription
        await connector.subscribe("http://127.0.0.1:9/webhooks/sharepoint", expires)
    with pytest.raises(RecordNotFound):
        await connector.renew_subscription("00000000-0000-0000-0000-000000000000", expires)
