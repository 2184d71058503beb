"""Teamwork's version guard in a write-through: it costs a GET (Teamwork has no ETag), so it is paid
only where Teamwork publishes an attribute being written. Real HTTP to the Teamwork simulator; the
other writer's change is a real PATCH landing before ours."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import httpx

from connectors import RecordChanges, SourceRecord, SystemName
from connectors.teamwork import TeamworkConnector
from resolvers.write_through import WriteResult, WriteStatus, WriteThrough
from xref import AuditLog, LinkInfo, Outbox, XrefService

NOW = datetime.datetime(2026, 11, 23, tzinfo=datetime.UTC)
Stores = tuple[XrefService, Outbox, AuditLog]


def _link(record_id: str) -> list[LinkInfo]:
    return [LinkInfo(customer_id="c1", system=SystemName.TEAMWORK, record_id=record_id, confidence=1.0,
                     evidence={}, decided_by="test", created_at=NOW, updated_at=NOW)]


async def _write(connector: TeamworkConnector, stores: Stores, record_id: str, changes: RecordChanges,
                 their_change: dict[str, str], api: httpx.Client) -> tuple[WriteResult, int]:
    """Write `changes` after someone else PATCHed `their_change` since the gateway read the company."""
    writes = WriteThrough({SystemName.TEAMWORK: connector}, stores[1], stores[2])

    edits = [their_change]

    async def fetch_then_their_edit(rid: str) -> SourceRecord:
        record = await TeamworkConnector.fetch(connector, rid)
        while edits:
            api.patch(f"/projects/api/v3/companies/{rid}.json", json={"company": edits.pop()}).raise_for_status()
        return record

    connector.fetch = fetch_then_their_edit  # type: ignore[method-assign,assignment]
    sent_before = connector.client.requests_sent
    result = await writes.update("c1", _link(record_id), changes, subject="test")
    return result, connector.client.requests_sent - sent_before


async def test_attributes_teamwork_only_consumes_are_written_unguarded_in_one_patch(
    connector: TeamworkConnector, write_stores: Stores, api: httpx.Client
) -> None:
    result, calls = await _write(connector, write_stores, "3", RecordChanges(name="Ours Ltd"),
                                 {"name": "Theirs Ltd"}, api)
    assert [o.status for o in result.outcomes] == [WriteStatus.APPLIED]
    assert calls == 2  # the read the write is based on, then the PATCH: no guard GET
    assert api.get("/projects/api/v3/companies/3.json").json()["company"]["name"] == "Ours Ltd"


async def test_an_attribute_teamwork_publishes_is_guarded_and_a_concurrent_change_is_a_conflict(
    connector: TeamworkConnector, write_stores: Stores, api: httpx.Client
) -> None:
    result, _ = await _write(connector, write_stores, "4", RecordChanges(website="https://ours.example.com"),
                             {"website": "https://theirs.example.com"}, api)
    conflict = result.conflict
    assert conflict is not None and (conflict.attribute, conflict.system) == ("website", SystemName.TEAMWORK)
    assert conflict.theirs == "https://theirs.example.com"
    assert api.get("/projects/api/v3/companies/4.json").json()["company"]["website"] == "https://theirs.example.com"


async def test_a_guarded_write_merges_over_a_concurrent_change_to_other_attributes(
    make_connector: Callable[..., TeamworkConnector], write_stores: Stores, api: httpx.Client
) -> None:
    connector = make_connector()
    result, calls = await _write(connector, write_stores, "5", RecordChanges(website="https://ours.example.com"),
                                 {"city": "Elsewhere"}, api)
    assert [o.status for o in result.outcomes] == [WriteStatus.APPLIED]
    company = api.get("/projects/api/v3/companies/5.json").json()["company"]
    assert (company["website"], company["city"]) == ("https://ours.example.com", "Elsewhere")
    assert calls == 5  # read, guard GET (stale), fresh re-read, guard GET, PATCH
