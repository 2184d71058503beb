"""`=`/`IN` queries go through store indexes: same answers as a scan, and writes are seen at once."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sandbox._store import Collection, Store
from sandbox.quickbooks._query import parse
from sandbox.quickbooks._select import Page, QueryValidationError, run

CUSTOMERS: list[dict[str, Any]] = [
    {"Id": "1", "DisplayName": "Bill's Windsurf Shop", "Active": True, "PrimaryEmailAddr": {"Address": "surf@example.com"},
     "Balance": 85.0},
    {"Id": "2", "DisplayName": "Amy's Bird Sanctuary", "Active": True, "Balance": 0.0},
    {"Id": "10", "DisplayName": "Cool Cars", "Active": False, "Balance": 20.5,
     "PrimaryEmailAddr": {"Address": "SURF@example.com"}},
    {"Id": "11", "DisplayName": "cool cars", "Active": True, "Balance": 1.0},
]
INVOICES: list[dict[str, Any]] = [
    {"Id": str(n), "DocNumber": f"10{n:02d}", "CustomerRef": {"value": ref}, "Balance": float(n)}
    for n, ref in [(1, "1"), (2, "10"), (3, "1"), (4, "2"), (5, "011"), (6, None)]
]


def collection(rows: list[dict[str, Any]]) -> Collection:
    stored = Store(None).collection("rows")
    stored.put_many((int(r["Id"]), copy.deepcopy(r)) for r in rows)
    return stored


def answer(text: str, rows: list[dict[str, Any]] | Collection) -> list[str] | int:
    result = run(parse(text), rows)
    return result if isinstance(result, int) else [r["Id"] for r in result.rows]


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("select * from Customer where Id in ('2', '10', 'x') and Active in (true, false)", CUSTOMERS),
        ("select * from Customer where Id in ('2', '10', 'x')", CUSTOMERS),  # implicit Active = true
        ("select * from Customer where Id = '010' and Active in (true, false)", CUSTOMERS),
        ("select * from Customer where Id = 'abc'", CUSTOMERS),
        ("select * from Customer where DisplayName = 'COOL CARS' and Active in (true, false)", CUSTOMERS),
        ("select * from Customer where Active in (true, false) and DisplayName in ('cool cars', 'AMY\\'S BIRD SANCTUARY')",
         CUSTOMERS),
        ("select * from Customer where PrimaryEmailAddr = 'surf@EXAMPLE.com' and Active in (true, false)", CUSTOMERS),
        ("select * from Customer where Active = false and Id in ('1', '10')", CUSTOMERS),
        ("select * from Customer where Id in ('1', '2', '11') orderby DisplayName desc startposition 2 maxresults 1",
         CUSTOMERS),
        ("select count(*) from Customer where Id in ('1', '10', '11')", CUSTOMERS),
        ("select * from Customer where DisplayName like '%cars' and Active in (true, false)", CUSTOMERS),
        ("select * from Invoice where CustomerRef in ('1', '11')", INVOICES),
        ("select * from Invoice where CustomerRef.value = '1' and DocNumber = '1003'", INVOICES),
        ("select * from Invoice where Balance > '1' and CustomerRef in ('1', '2') orderby Balance desc", INVOICES),
    ],
)
def test_indexed_queries_answer_what_a_scan_would(text: str, rows: list[dict[str, Any]]) -> None:
    assert answer(text, collection(rows)) == answer(text, rows)


def test_the_reference_scan_is_not_vacuous() -> None:
    assert answer("select * from Invoice where CustomerRef in ('1', '11')", INVOICES) == ["1", "3", "5"]
    assert answer("select * from Customer where Id = '010' and Active in (true, false)", CUSTOMERS) == ["10"]


def test_a_bad_condition_fails_the_same_way_before_any_lookup() -> None:
    text = "select * from Customer where Balance = 'abc' and Id in ('1')"
    for rows in (CUSTOMERS, collection(CUSTOMERS)):
        with pytest.raises(QueryValidationError, match="'Balance' needs a number"):
            run(parse(text), rows)


def test_lookups_follow_writes_to_the_collection() -> None:
    stored = collection(CUSTOMERS)
    text = "select * from Customer where DisplayName = 'bird house' and Active in (true, false)"
    assert answer(text, stored) == []
    stored.put(2, {**CUSTOMERS[1], "DisplayName": "Bird House"})
    assert answer(text, stored) == ["2"]
    stored.delete(2)
    assert answer(text, stored) == []
    result = run(parse("select * from Customer where Id in ('1', '2')"), stored)
    assert isinstance(result, Page) and [r["Id"] for r in result.rows] == ["1"]


# --- over HTTP ------------------------------------------------------------------------------------


def customer_ids(qbo: Any, where: str) -> list[str]:
    body = qbo.query(f"select * from Customer where Active in (true, false) and {where}").json()
    return [c["Id"] for c in body["QueryResponse"].get("Customer", [])]


def invoice_ids(qbo: Any, customer_id: str) -> list[str]:
    body = qbo.query(f"select * from Invoice where CustomerRef in ('{customer_id}')").json()
    return [i["Id"] for i in body["QueryResponse"].get("Invoice", [])]


def test_a_renamed_customer_is_found_by_its_new_name_only_and_frees_the_old_one(qbo: Any) -> None:
    first = qbo.create_customer(DisplayName="Alpha Co")
    assert customer_ids(qbo, "DisplayName = 'alpha co'") == [first["Id"]]
    renamed = qbo.call("POST", "/customer", json={"Id": first["Id"], "SyncToken": "0", "sparse": True,
                                                 "DisplayName": "Beta Co"})
    assert renamed.status_code == 200, renamed.text
    assert customer_ids(qbo, "DisplayName = 'Alpha Co'") == []
    assert customer_ids(qbo, "DisplayName = 'Beta Co'") == [first["Id"]]
    again = qbo.create_customer(DisplayName="Alpha Co")  # the old name is free again
    assert customer_ids(qbo, "DisplayName in ('Alpha Co', 'Beta Co')") == [first["Id"], again["Id"]]
    taken = qbo.call("POST", "/customer", json={"DisplayName": " beta co "})
    assert taken.status_code == 400 and taken.json()["Fault"]["Error"][0]["code"] == "6240"
    assert f"Id={first['Id']}" in taken.json()["Fault"]["Error"][0]["Detail"]


def test_invoices_by_customer_follow_creates_and_deletes(qbo: Any) -> None:
    customer = qbo.create_customer(DisplayName="Shara Barnett")
    assert invoice_ids(qbo, customer["Id"]) == []
    first = qbo.create_invoice(customer["Id"], 100.0)
    second = qbo.create_invoice(customer["Id"], 25.5)
    assert invoice_ids(qbo, customer["Id"]) == [first["Id"], second["Id"]]
    deleted = qbo.call("POST", "/invoice", params={"operation": "delete"},
                       json={"Id": first["Id"], "SyncToken": first["SyncToken"]})
    assert deleted.status_code == 200, deleted.text
    assert invoice_ids(qbo, customer["Id"]) == [second["Id"]]
    assert qbo.call("GET", f"/customer/{customer['Id']}").json()["Customer"]["Balance"] == 25.5


def test_moving_a_sub_customer_moves_its_balance_between_parents(qbo: Any) -> None:
    old_parent = qbo.create_customer(DisplayName="Old Parent")
    new_parent = qbo.create_customer(DisplayName="New Parent")
    job = qbo.create_customer(DisplayName="The Job", ParentRef={"value": old_parent["Id"]})
    qbo.create_invoice(job["Id"], 40.0)

    def with_jobs(customer: dict[str, Any]) -> float:
        return float(qbo.call("GET", f"/customer/{customer['Id']}").json()["Customer"]["BalanceWithJobs"])

    assert (with_jobs(old_parent), with_jobs(new_parent)) == (40.0, 0.0)
    moved = qbo.call("POST", "/customer", json={"Id": job["Id"], "SyncToken": job["SyncToken"], "sparse": True,
                                               "ParentRef": {"value": new_parent["Id"]}})
    assert moved.status_code == 200, moved.text
    assert (with_jobs(old_parent), with_jobs(new_parent)) == (0.0, 40.0)
    qbo.create_invoice(job["Id"], 2.0)
    assert (with_jobs(old_parent), with_jobs(new_parent)) == (0.0, 42.0)
