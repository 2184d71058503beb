"""The Teamwork connector's updatedAt scan and webhook registration against the simulator."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from connectors import ChangeKind, RecordChanges
from connectors.teamwork import TeamworkConnector

HOOK_URL = "http://127.0.0.1:8360/webhooks/teamwork"


async def test_the_scan_starts_from_the_newest_update_and_then_reports_companies_changed_since(
    make_connector: Callable[..., TeamworkConnector],
) -> None:
    connector = make_connector(page_size=5)  # several pages
    start = await connector.changes(None, margin_s=0)
    assert start.events == () and start.checkpoint.startswith("2024-05-20T09:40:12")

    await connector.update("4", None, RecordChanges(phone="(217) 555-0199"))
    batch = await connector.changes(start.checkpoint, margin_s=0)

    (event,) = [e for e in batch.events if e.record_id == "4"]
    assert event.kind is ChangeKind.UPDATED
    assert event.record is not None and event.record.phone == "(217) 555-0199"
    # updatedAt has whole seconds, so companies at the checkpoint's own second come again (same dedup keys).
    assert all(e.changed_at is not None and e.changed_at.isoformat() >= start.checkpoint for e in batch.events)
    assert batch.checkpoint > start.checkpoint
    assert [e.record_id for e in (await connector.changes(batch.checkpoint, margin_s=0)).events] == ["4"]


async def test_webhook_registration_is_idempotent(connector: TeamworkConnector, api: httpx.Client) -> None:
    first = await connector.register_webhooks(HOOK_URL, "token-1")
    again = await connector.register_webhooks(HOOK_URL, "token-1")

    hooks = api.get("/webhooks.json").json()["webhooks"]
    assert first == again and set(first) == {"COMPANY.CREATED", "COMPANY.UPDATED", "COMPANY.DELETED"}
    assert sorted(h["event"] for h in hooks if h["url"] == HOOK_URL) == sorted(first)
    assert all(h["status"] == "active" and h["hasToken"] for h in hooks)
