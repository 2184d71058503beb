"""SharePointConnector against the simulator over real HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence

import pytest

from connectors import (
    Address,
    AuthenticationFailed,
    Connector,
    CustomerStatus,
    RecordChanges,
    RecordNotFound,
    SharePointSettings,
    SourceRecord,
    SourceRejected,
    SystemName,
    UpstreamLimits,
    VersionConflict,
)
from connectors.sharepoint import SharePointConnector
from sandbox._simulator import Simulator
from sandbox._store import Store
from sandbox.sharepoint import fidelity as sharepoint_fidelity
from tests.sharepoint._data import CUSTOMERS, make_item


def test_connector_implements_the_protocol(connector: SharePointConnector) -> None:
    assert isinstance(connector, Connector)
    assert connector.system is SystemName.SHAREPOINT


async def test_fetch_maps_every_field(connector: SharePointConnector) -> None:
    record = await connector.fetch("1")
    assert record.id == "1"
    assert record.name == "Bill's Windsurf Shop"
    assert record.email == "surf@example.com"
    assert record.phone == "(415) 444-6538"
    assert record.address == Address("12 Ocean Dr.", "Suite 4", "Half Moon Bay", "CA", "94213", None)
    assert record.status is CustomerStatus.ACTIVE
    assert record.person_name is None
    assert record.version == '"5d2f1b5c-8c8e-4b6e-9a53-2a0c6f1d0001,3"'
    assert record.updated_at is not None and record.updated_at.isoformat() == "2024-05-11T09:31:44+00:00"
    assert record.url is not None and record.url.endswith("/Lists/Customers/1_.000")
    assert record.raw["fields"]["Title"] == record.name


async def test_absent_columns_are_no_value(connector: SharePointConnector) -> None:
    record = await connector.fetch("4")
    assert record.email is None
    assert record.address is None


async def test_round_trip_of_every_field(connector: SharePointConnector) -> None:
    created = await connector.create(RecordChanges(
        name="O'Neil & Sons", email="Office@ONeil.example", phone="(212) 555-0100",
        address=Address("1 Main St", "Floor 2", "New York", "NY", "10001", "US"), status=CustomerStatus.LEAD,
    ))
    fetched = await connector.fetch(created.id)
    assert fetched == created
    assert (fetched.name, fetched.email, fetched.phone, fetched.status) == (
        "O'Neil & Sons", "Office@ONeil.example", "(212) 555-0100", CustomerStatus.LEAD)
    assert fetched.address == Address("1 Main St", "Floor 2", "New York", "NY", "10001", None)

    updated = await connector.update(created.id, fetched.version, RecordChanges(
        name="O'Neil and Sons", email="", status=CustomerStatus.ACTIVE,
        address=Address("2 Broadway", None, "New York", "NY", "10004"),
    ))
    assert updated.version != fetched.version
    again = await connector.fetch(created.id)
    assert again == updated
    assert again.name == "O'Neil and Sons"
    assert again.email is None
    assert again.phone == "(212) 555-0100"
    assert again.status is CustomerStatus.ACTIVE
    assert again.address == Address("2 Broadway", None, "New York", "NY", "10004", None)
    assert again.url == connector.record_url(created.id)


async def test_update_with_a_stale_version_is_a_conflict(connector: SharePointConnector) -> None:
    record = await connector.fetch("2")
    await connector.update("2", record.version, RecordChanges(phone="(650) 555-0000"))
    with pytest.raises(VersionConflict):
        await connector.update("2", record.version, RecordChanges(name="Lost write"))
    assert (await connector.fetch("2")).name == "Amy's Bird Sanctuary"


async def test_update_without_version_is_last_write_wins(connector: SharePointConnector) -> None:
    updated = await connector.update("3", None, RecordChanges(phone="(415) 555-0000"))
    assert updated.phone == "(415) 555-0000"


async def test_invalid_writes_are_rejected(connector: SharePointConnector) -> None:
    with pytest.raises(SourceRejected):
        await connector.update("1", None, RecordChanges(status=CustomerStatus.INACTIVE))
    with pytest.raises(RecordNotFound):
        await connector.update("999", None, RecordChanges(name="x"))
    with pytest.raises(RecordNotFound):
        await connector.fetch("999")


async def test_fetch_many_keeps_key_order_with_none_for_absent(
    connector: SharePointConnector, sp_sim: Simulator
) -> None:
    records = await connector.fetch_many(["5", "999", "1", "abc", "5"])
    assert [r.id if r else None for r in records] == ["5", None, "1", None, "5"]
    assert sp_sim.injector.calls.get("POST /v1.0/$batch") == 1


def _seed(store: Store, count: int) -> None:
    """More customers, written as the data generator would (straight into the simulator's store)."""
    start = len(CUSTOMERS) + 1
    store.collection("customers").put_many(
        (i, make_item(i, {"Title": f"Bulk {i}", "CustomerStatus": "lead"})) for i in range(start, start + count)
    )


async def test_fetch_many_batches_by_twenty(
    per_key_connector: SharePointConnector, sp_sim: Simulator, sp_store: Store
) -> None:
    _seed(sp_store, 40)
    ids = [str(i) for i in range(1, 46)]
    records = await per_key_connector.fetch_many(ids)
    assert [r.id for r in records if r] == ids
    assert sp_sim.injector.calls.get("POST /v1.0/$batch") == 3
    single_gets = [call for call in sp_sim.injector.calls if call.startswith("GET ")]
    assert single_gets == []


async def test_iterate_follows_every_page(
    connector: SharePointConnector, sp_store: Store, sp_sim: Simulator
) -> None:
    _seed(sp_store, 445)
    records = [record async for record in connector.iterate()]
    assert [r.id for r in records] == [str(i) for i in range(1, 451)]
    assert records[-1].name == "Bulk 450"
    assert sp_sim.injector.calls.get(f"GET /v1.0/sites/{connector.settings.site_id}/lists/Customers/items") == 3


@pytest.mark.parametrize(
    ("criteria", "ids"),
    [
        ({"name": "bill"}, ["1", "3"]),
        ({"name": "Cool Cars"}, ["4"]),
        ({"email": "BIRDS@example.com"}, ["2"]),
        ({"phone": "415.444.6538"}, ["1"]),
        ({"phone": "+1 415 555 9933"}, ["4"]),
        ({"phone": "415-555-9933"}, ["4"]),
        ({"name": "Dukes", "email": "bbq@example.com"}, ["5", "3"]),
        ({"name": "Nobody"}, []),
        ({}, []),
    ],
)
async def test_search_by_name_email_and_phone(
    connector: SharePointConnector, criteria: dict[str, str], ids: list[str]
) -> None:
    assert [r.id for r in await connector.search(**criteria)] == ids


async def test_documents_for_customers(connector: SharePointConnector) -> None:
    docs = await connector.documents_for(["1", "2", "4"])
    assert sorted(docs) == ["1", "2", "4"]
    assert [(d.name, d.document_type) for d in docs["1"]] == [
        ("Proposal - Bill's Windsurf Shop.docx", "proposal"), ("SOW - Bill's Windsurf Shop.pdf", "sow")]
    assert docs["2"][0].customer_id == "2"
    assert docs["2"][0].url and docs["2"][0].url.endswith("Contract%20-%20Amy.pdf")
    assert docs["4"] == []


async def test_expired_token_is_refreshed_once(
    connector: SharePointConnector, sp_admin: Callable, sp_sim: Simulator
) -> None:
    await connector.fetch("1")
    sp_admin("POST", "/sharepoint/expire-tokens")
    results = await asyncio.gather(*(connector.fetch(str(i)) for i in range(1, 6)))
    assert [r.id for r in results] == ["1", "2", "3", "4", "5"]
    assert connector.auth.tokens_fetched == 2
    assert sp_admin("GET", "/sharepoint").json()["tokens_issued"] == 2


async def test_token_is_reused_until_near_expiry(connector: SharePointConnector) -> None:
    await connector.fetch_many(["1", "2"])
    await connector.fetch("3")
    assert connector.auth.tokens_fetched == 1


async def test_wrong_secret_fails_without_leaking_it(
    sp_settings: SharePointSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = sp_settings.model_copy(update={"client_secret": sp_settings.client_secret.__class__("not-it-123")})
    conn = SharePointConnector(settings, UpstreamLimits())
    try:
        with pytest.raises(AuthenticationFailed) as info:
            await conn.fetch("1")
    finally:
        await conn.aclose()
    assert "invalid_client" in str(info.value)
    assert "not-it-123" not in caplog.text and "not-it-123" not in str(info.value)


@pytest.fixture
async def or_connector(sp_settings: SharePointSettings) -> AsyncIterator[SharePointConnector]:
    """A connector asking 10 keys per `or` filter."""
    conn = SharePointConnector(sp_settings.model_copy(update={"or_filter_terms": 10}), UpstreamLimits())
    yield conn
    await conn.aclose()


def _same(records: Sequence[SourceRecord | None]) -> list[object]:
    return [(r.id, r.name, r.email, r.address) if r else None for r in records]


async def test_or_filters_read_the_same_records_in_far_fewer_sub_requests(
    per_key_connector: SharePointConnector, or_connector: SharePointConnector, sp_sim: Simulator,
    sp_store: Store,
) -> None:
    _seed(sp_store, 40)
    ids = [str(i) for i in range(1, 46)] + ["999", "abc", "7"]
    expected = await per_key_connector.fetch_many(ids)
    sp_sim.injector.calls.clear()
    joined = await or_connector.fetch_many(ids)
    assert _same(joined) == _same(expected)
    # 46 distinct numeric ids, 10 a filter: 5 sub-requests, all in one $batch call.
    assert sp_sim.injector.calls.get("POST /v1.0/$batch") == 1


async def test_or_filters_find_each_customers_documents(
    per_key_connector: SharePointConnector, or_connector: SharePointConnector
) -> None:
    wanted = ["1", "2", "4", "3", "5"]
    assert await or_connector.documents_for(wanted) == await per_key_connector.documents_for(wanted)


async def test_a_tenant_refusing_or_is_asked_one_key_per_sub_request_from_then_on(
    connector: SharePointConnector, per_key_connector: SharePointConnector, sp_sim: Simulator,
    sp_store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    _seed(sp_store, 40)
    ids = [str(i) for i in range(1, 46)]
    expected = await per_key_connector.fetch_many(ids)
    expected_documents = await per_key_connector.documents_for(["1", "2", "3"])
    monkeypatch.setattr(sharepoint_fidelity, "FILTER_SUPPORTS_OR", False)
    sp_sim.injector.calls.clear()
    caplog.set_level(logging.WARNING, logger="connectors.sharepoint")

    assert _same(await connector.fetch_many(ids)) == _same(expected)
    # The refused `or` batch, then 45 keys at 20 a batch: the caller never saw the refusal.
    assert sp_sim.injector.calls.get("POST /v1.0/$batch") == 1 + 3
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "refused `or`" in caplog.records[0].message

    sp_sim.injector.calls.clear()
    assert await connector.documents_for(["1", "2", "3"]) == expected_documents
    assert sp_sim.injector.calls.get("POST /v1.0/$batch") == 1  # no second attempt at `or`
    assert len(caplog.records) == 1
