"""QuickBooks change data capture (`GET /cdc`, source-apis.md 3.5) over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from sandbox.quickbooks import QuickBooksSimConfig
from sandbox.quickbooks._wire import COMPANY_TZ
from tests.quickbooks.conftest import Qbo


@dataclass
class Clock:
    """The company's clock, moved by the test (what `MetaData.LastUpdatedTime` and `time` read)."""

    now: datetime = field(default_factory=lambda: datetime.now(COMPANY_TZ))

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def books(start_qbo: Callable[..., Qbo], clock: Clock) -> Qbo:
    return start_qbo(config=QuickBooksSimConfig(clock=clock))


def _cdc(qbo: Qbo, since: datetime | str, entities: str = "Customer,Invoice") -> dict[str, Any]:
    changed_since = since if isinstance(since, str) else since.isoformat(timespec="seconds")
    resp = qbo.call("GET", "/cdc", params={"entities": entities, "changedSince": changed_since})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _by_entity(body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for response in body["CDCResponse"][0]["QueryResponse"]:
        for key, value in response.items():
            if isinstance(value, list):
                out[key] = value
    return out


def test_cdc_returns_what_changed_since_and_not_older_changes(books: Qbo, clock: Clock) -> None:
    start = clock.now
    clock.now = start - timedelta(days=10)
    old = books.create_customer(DisplayName="Old Timer")
    clock.now = start - timedelta(hours=1)
    edited = books.create_customer(DisplayName="Edited Later")
    clock.now = start
    updated = books.call("POST", "/customer", json={"Id": edited["Id"], "SyncToken": "0", "sparse": True,
                                                    "PrimaryEmailAddr": {"Address": "new@example.com"}})
    assert updated.status_code == 200
    new = books.create_customer(DisplayName="Brand New")

    body = _cdc(books, start - timedelta(minutes=5))
    assert body["time"]
    changed = _by_entity(body)
    assert [c["Id"] for c in changed["Customer"]] == [edited["Id"], new["Id"]]
    assert changed["Customer"][0]["PrimaryEmailAddr"] == {"Address": "new@example.com"}  # full, latest record
    assert "Invoice" not in changed

    everything = _by_entity(_cdc(books, start - timedelta(days=20)))
    assert [c["Id"] for c in everything["Customer"]] == [old["Id"], edited["Id"], new["Id"]]


def test_each_entity_asked_for_has_its_query_response(books: Qbo, clock: Clock) -> None:
    customer = books.create_customer(DisplayName="Invoiced")
    books.create_invoice(customer["Id"], 100.0)
    responses = _cdc(books, clock.now - timedelta(minutes=1))["CDCResponse"][0]["QueryResponse"]
    assert [next(k for k in r if k in ("Customer", "Invoice")) for r in responses] == ["Customer", "Invoice"]
    assert responses[1]["startPosition"] == 1 and responses[1]["totalCount"] == 1
    # An entity without changes is an empty object.
    only = _cdc(books, clock.now + timedelta(minutes=1), "Invoice")["CDCResponse"][0]["QueryResponse"]
    assert only == [{}]


def test_inactive_customers_come_in_full_and_deleted_invoices_as_stubs(books: Qbo, clock: Clock) -> None:
    customer = books.create_customer(DisplayName="Going Away")
    invoice = books.create_invoice(customer["Id"], 40.0)
    since = clock.now - timedelta(seconds=1)
    deleted = books.call("POST", "/invoice", params={"operation": "delete"},
                         json={"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]})
    assert deleted.status_code == 200
    books.call("POST", "/customer", json={"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False})

    changed = _by_entity(_cdc(books, since))
    [gone] = changed["Customer"]
    assert gone["Active"] is False and gone["DisplayName"] == "Going Away"
    [stub] = changed["Invoice"]
    assert stub["status"] == "Deleted" and stub["Id"] == invoice["Id"] and stub["domain"] == "QBO"
    assert stub["MetaData"]["LastUpdatedTime"]


def test_changed_since_more_than_30_days_back_is_a_fault(books: Qbo, clock: Clock) -> None:
    since = (clock.now - timedelta(days=31)).isoformat(timespec="seconds")
    resp = books.call("GET", "/cdc", params={"entities": "Customer", "changedSince": since})
    assert resp.status_code == 400
    error = resp.json()["Fault"]["Error"][0]
    assert error["element"] == "changedSince"
    assert "30 days" in error["Detail"]


@pytest.mark.parametrize(("params", "element"), [
    ({"changedSince": "2024-05-19T00:00:00-07:00"}, "entities"),
    ({"entities": "Customer"}, "changedSince"),
    ({"entities": "Customer", "changedSince": "yesterday"}, "changedSince"),
    ({"entities": "Unicorn", "changedSince": "2024-05-19"}, "entities"),
])
def test_bad_cdc_requests_are_faults(qbo: Qbo, params: dict[str, str], element: str) -> None:
    resp = qbo.call("GET", "/cdc", params=params)
    assert resp.status_code == 400
    assert resp.json()["Fault"]["Error"][0]["element"] == element
