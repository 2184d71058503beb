"""QuickBooksConnector against the simulator over real HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import stat
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

import connectors.quickbooks as qbo_module
from connectors import (
    Address,
    AuthenticationFailed,
    Connector,
    CustomerStatus,
    DuplicateRecord,
    PersonName,
    RecordChanges,
    RecordNotFound,
    SourceRejected,
    UpstreamLimits,
    VersionConflict,
    create_request_id,
)
from connectors.quickbooks import QuickBooksConnector

TOKEN_PATH = "POST /oauth2/v1/tokens/bearer"
FAST = UpstreamLimits(backoff_base_s=0.05, backoff_max_s=1.0, max_attempts=10, retry_deadline_s=30)


@pytest.fixture
async def open_connector(qbo: Any) -> AsyncIterator[Callable[..., QuickBooksConnector]]:
    opened: list[QuickBooksConnector] = []

    def make(limits: UpstreamLimits = FAST, **settings: Any) -> QuickBooksConnector:
        connector = QuickBooksConnector(qbo.settings(**settings), limits)
        opened.append(connector)
        return connector

    yield make
    for connector in opened:
        await connector.aclose()


@pytest.fixture
def conn(open_connector: Callable[..., QuickBooksConnector]) -> QuickBooksConnector:
    return open_connector()


FULL = RecordChanges(
    name="Bill's Windsurf Shop",
    person_name=PersonName("Bill", "Lucchini"),
    email="surf@example.com",
    phone="(415) 444-6538",
    address=Address("12 Ocean Dr.", "Suite 4", "Half Moon Bay", "CA", "94213", "USA"),
    status=CustomerStatus.ACTIVE,
    website="https://windsurf.example.com",
)


async def test_connector_satisfies_the_protocol(conn: QuickBooksConnector) -> None:
    assert isinstance(conn, Connector)
    assert conn.record_url("58").endswith("/customerdetail?nameId=58")


async def test_every_field_round_trips_through_create_fetch_and_update(conn: QuickBooksConnector) -> None:
    created = await conn.create(FULL)
    fetched = await conn.fetch(created.id)
    assert fetched == created
    for attr in ("name", "person_name", "email", "phone", "address", "status", "website"):
        assert getattr(fetched, attr) == getattr(FULL, attr), attr
    assert fetched.raw["CompanyName"] == fetched.raw["DisplayName"] == "Bill's Windsurf Shop"
    assert fetched.version == "0" and fetched.updated_at is not None and fetched.updated_at.tzinfo
    assert fetched.url == conn.record_url(created.id)

    changes = RecordChanges(
        name="Bill's Kite Shop", person_name=PersonName("William", None), email="kite@example.com",
        phone="(415) 555-0000", address=Address("1 Bay Rd", None, "Pacifica", "CA", "94044", None),
        status=CustomerStatus.INACTIVE, website="https://kite.example.com",
    )
    updated = await conn.update(created.id, fetched.version, changes)
    assert updated.version == "1"
    for attr in ("name", "person_name", "email", "phone", "address", "status", "website"):
        assert getattr(updated, attr) == getattr(changes, attr), attr
    assert await conn.fetch(created.id) == updated


async def test_a_person_customer_is_named_after_the_person(conn: QuickBooksConnector) -> None:
    created = await conn.create(RecordChanges(person_name=PersonName("Amy", "Lauterbach"), email="amy@example.com"))
    assert created.name == "Amy Lauterbach" and "CompanyName" not in created.raw


async def test_missing_null_and_empty_values_mean_no_value(qbo: Any, conn: QuickBooksConnector) -> None:
    c = qbo.create_customer(DisplayName="Sparse Co", Notes="x")
    record = await conn.fetch(c["Id"])
    assert record.email is None and record.phone is None and record.address is None and record.person_name is None
    assert record.status is CustomerStatus.ACTIVE


async def test_fetch_many_is_one_call_in_key_order_with_none_for_absent(qbo: Any, conn: QuickBooksConnector) -> None:
    a = qbo.create_customer(DisplayName="Alpha")
    b = qbo.create_customer(DisplayName="Beta")
    qbo.call("POST", "/customer", json={"Id": b["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    await conn.fetch(a["Id"])  # warm the token
    before = conn.client.requests_sent
    got = await conn.fetch_many([b["Id"], "999", a["Id"], "not-a-number", b["Id"]])
    assert [r.name if r else None for r in got] == ["Beta", None, "Alpha", None, "Beta"]
    assert got[0] is not None and got[0].status is CustomerStatus.INACTIVE
    assert conn.client.requests_sent - before == 1


async def test_fetch_many_chunks_by_the_named_limit(
    qbo: Any, conn: QuickBooksConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [qbo.create_customer(DisplayName=f"C{n}")["Id"] for n in range(5)]
    monkeypatch.setattr(qbo_module, "FETCH_CHUNK", 2)
    await conn.fetch(ids[0])
    before = conn.client.requests_sent
    got = await conn.fetch_many(ids)
    assert [r.id for r in got if r] == ids
    assert conn.client.requests_sent - before == 3


async def test_iterate_follows_pages_and_includes_inactive(
    qbo: Any, conn: QuickBooksConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [qbo.create_customer(DisplayName=f"Customer {n}")["Id"] for n in range(5)]
    qbo.call("POST", "/customer", json={"Id": ids[2], "SyncToken": "0", "sparse": True, "Active": False})
    monkeypatch.setattr(qbo_module, "PAGE_SIZE", 2)
    await conn.fetch(ids[0])
    before = conn.client.requests_sent
    seen = [r.id async for r in conn.iterate()]
    assert seen == ids
    assert conn.client.requests_sent - before == 3  # 2 + 2 + 1


async def test_search_by_name_and_email_unions_and_phone_is_unsupported(
    qbo: Any, conn: QuickBooksConnector
) -> None:
    bill = qbo.create_customer(DisplayName="Bill's Windsurf Shop", PrimaryEmailAddr={"Address": "surf@example.com"},
                               PrimaryPhone={"FreeFormNumber": "555-1234"})
    co = qbo.create_customer(DisplayName="Jane Roe", CompanyName="Windsurf Partners")
    other = qbo.create_customer(DisplayName="Unrelated", PrimaryEmailAddr={"Address": "x@example.com"})
    assert [r.id for r in await conn.search(name="windsurf")] == [bill["Id"], co["Id"]]
    assert [r.id for r in await conn.search(name="bill's")] == [bill["Id"]]
    assert [r.id for r in await conn.search(email="X@example.com")] == [other["Id"]]
    assert [r.id for r in await conn.search(name="Bill's", email="x@example.com")] == [bill["Id"], other["Id"]]
    assert await conn.search(phone="555-1234") == []
    assert await conn.search(name="no such 'quote\\ name") == []


async def test_invoices_for_groups_by_customer_in_one_call(qbo: Any, conn: QuickBooksConnector) -> None:
    a = qbo.create_customer(DisplayName="Has Invoices")
    b = qbo.create_customer(DisplayName="Also Has")
    empty = qbo.create_customer(DisplayName="Has None")
    older = qbo.create_invoice(a["Id"], 100.0, TxnDate="2024-04-01", DocNumber="1001")
    newer = qbo.create_invoice(a["Id"], 40.0, 2.5, TxnDate="2024-05-01")
    qbo.create_invoice(b["Id"], 10.0)
    qbo.admin("POST", f"/invoices/{older['Id']}/payment", {"amount": 100})
    await conn.fetch(a["Id"])
    before = conn.client.requests_sent
    result = await conn.invoices_for([a["Id"], empty["Id"], b["Id"]])
    assert conn.client.requests_sent - before == 1
    assert set(result) == {a["Id"], b["Id"], empty["Id"]}
    assert result[empty["Id"]] == []
    assert [i.id for i in result[a["Id"]]] == [newer["Id"], older["Id"]]
    first = result[a["Id"]][0]
    assert first.total == Decimal("42.5") and first.balance == Decimal("42.5") and first.is_open
    assert result[a["Id"]][1].number == "1001" and not result[a["Id"]][1].is_open
    assert first.customer_id == a["Id"] and first.currency == "USD" and first.date is not None


async def test_stale_version_is_a_version_conflict(qbo: Any, conn: QuickBooksConnector) -> None:
    created = await conn.create(RecordChanges(name="Conflicted Inc"))
    qbo.admin("PATCH", f"/customers/{created.id}", {"Notes": "edited in the UI"})
    with pytest.raises(VersionConflict) as info:
        await conn.update(created.id, created.version, RecordChanges(email="new@example.com"))
    assert info.value.code == "5010"


async def test_taken_name_is_a_duplicate_record(conn: QuickBooksConnector) -> None:
    await conn.create(RecordChanges(name="Only One"))
    with pytest.raises(DuplicateRecord):
        await conn.create(RecordChanges(name="ONLY ONE"))


async def test_missing_record_and_invalid_input(conn: QuickBooksConnector) -> None:
    with pytest.raises(RecordNotFound):
        await conn.fetch("4242")
    with pytest.raises(RecordNotFound):
        await conn.fetch("abc")
    with pytest.raises(SourceRejected):
        await conn.create(RecordChanges(email="nobody@example.com"))


async def test_expired_access_token_is_refreshed_exactly_once(qbo: Any, conn: QuickBooksConnector) -> None:
    c = qbo.create_customer(DisplayName="Token Test")
    await conn.fetch(c["Id"])
    qbo.admin("DELETE", "/stats")
    qbo.admin("POST", "/oauth/expire")
    results = await asyncio.gather(*(conn.fetch(c["Id"]) for _ in range(5)))
    assert all(r.name == "Token Test" for r in results)
    assert qbo.calls(TOKEN_PATH) == 1


async def test_rotated_refresh_token_is_persisted_and_preferred(
    qbo: Any, open_connector: Callable[..., QuickBooksConnector], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = tmp_path / "secrets" / "qbo-token.json"
    qbo.admin("PATCH", "/oauth", {"refresh_grace_s": 0})  # a used refresh token dies at once
    first = open_connector(token_store=str(store))
    assert await first.search(name="anything") == []
    saved = json.loads(store.read_text())
    assert saved["refresh_token"] != qbo.credentials.quickbooks_refresh_token
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    # The configured token is dead now; a new process must start from the stored one.
    second = open_connector(token_store=str(store))
    assert await second.search(name="anything") == []
    assert json.loads(store.read_text())["refresh_token"] != saved["refresh_token"]
    assert saved["refresh_token"] not in caplog.text
    assert qbo.credentials.quickbooks_refresh_token not in caplog.text
    without_store = open_connector()
    with pytest.raises(AuthenticationFailed):
        await without_store.fetch("1")


async def test_a_429_storm_is_ridden_out(qbo: Any, conn: QuickBooksConnector) -> None:
    c = qbo.create_customer(DisplayName="Storm Survivor")
    await conn.fetch(c["Id"])
    qbo.admin("PATCH", "/faults", {"rate_limit_per_minute": 3, "rate_window_s": 1})
    results = await asyncio.gather(*(conn.fetch(c["Id"]) for _ in range(6)))
    assert {r.name for r in results} == {"Storm Survivor"}
    assert qbo.calls(f"GET {qbo.api}/customer/{c['Id']}") > 7  # throttled attempts were retried


async def test_a_two_second_outage_is_ridden_out(qbo: Any, conn: QuickBooksConnector) -> None:
    c = qbo.create_customer(DisplayName="Outage Survivor")
    await conn.fetch(c["Id"])
    qbo.admin("PATCH", "/faults", {"outage": True, "outage_for_s": 2})
    assert (await conn.fetch(c["Id"])).name == "Outage Survivor"
    assert qbo.calls(f"GET {qbo.api}/customer/{c['Id']}") > 2


class _LoseFirstCreateResponse(httpx.AsyncBaseTransport):
    """Delivers the first customer create to the server, then drops the connection before the reply."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.dropped = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/customer") and not self.dropped:
            self.dropped = True
            await response.aread()
            raise httpx.ReadError("connection reset", request=request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_create_retried_after_a_lost_response_is_applied_once(qbo: Any) -> None:
    transport = _LoseFirstCreateResponse()
    conn = QuickBooksConnector(qbo.settings(), FAST, transport=transport)
    try:
        created = await conn.create(RecordChanges(name="Exactly Once LLC"))
    finally:
        await conn.aclose()
    assert transport.dropped and created.name == "Exactly Once LLC"
    assert qbo.query("select count(*) from Customer").json()["QueryResponse"]["totalCount"] == 1


async def test_customer_balance_is_the_sum_of_its_open_invoices(qbo: Any, conn: QuickBooksConnector) -> None:
    customer = qbo.create_customer(DisplayName="Owes Money")
    paid = qbo.create_invoice(customer["Id"], 100.0)
    qbo.create_invoice(customer["Id"], 40.0, 2.5)
    qbo.admin("POST", f"/invoices/{paid['Id']}/payment", {"amount": 100})

    record = await conn.fetch(customer["Id"])

    assert record.balance == Decimal("42.5")


async def test_a_create_repeated_with_the_same_request_id_returns_the_same_customer(
    qbo: Any, conn: QuickBooksConnector
) -> None:
    """A workflow re-run after a lost answer repeats its create with a stable id; QuickBooks creates once."""
    with create_request_id("convert-c1-quickbooks"):  # set around wrappers that only know the protocol
        first = await conn.create(RecordChanges(name="Stable Request LLC"))
        again = await conn.create(RecordChanges(name="Stable Request LLC"))
    with create_request_id("convert-c1-quickbooks"):  # the same id, set again by a re-run
        through_context = await conn.create(RecordChanges(name="Stable Request LLC"))
    with create_request_id("convert-c2-quickbooks"):
        other = await conn.create(RecordChanges(name="Other Request LLC"))

    assert again.id == through_context.id == first.id != other.id
    assert qbo.query("select count(*) from Customer").json()["QueryResponse"]["totalCount"] == 2
    assert qbo.calls(f"POST {qbo.api}/customer") == 4  # each repeat reached QuickBooks, which answered from memory
