"""The QuickBooks simulator speaks QuickBooks on the wire (source-apis.md section 3), over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from sandbox._faults import FaultSettings
from sandbox.quickbooks import QuickBooksSimConfig


def fault(resp: httpx.Response) -> dict[str, Any]:
    return resp.json()["Fault"]["Error"][0]


def test_created_customer_reads_back_with_envelope_time_and_intuit_tid(qbo: Any) -> None:
    created = qbo.create_customer(
        DisplayName="Bill's Windsurf Shop", CompanyName="Bill's Windsurf Shop", GivenName="Bill",
        FamilyName="Lucchini", PrimaryEmailAddr={"Address": "surf@example.com"},
        BillAddr={"Line1": "12 Ocean Dr.", "City": "Half Moon Bay", "CountrySubDivisionCode": "CA"},
    )
    assert created["SyncToken"] == "0" and created["Active"] is True
    assert "PrimaryPhone" not in created  # absent sub-objects are omitted
    resp = qbo.call("GET", f"/customer/{created['Id']}")
    assert resp.status_code == 200
    assert resp.headers["intuit_tid"]
    body = resp.json()
    assert body["Customer"] == created
    assert body["time"][-6:] in ("-07:00", "-08:00")  # company-local offset, Los Angeles
    assert created["MetaData"]["CreateTime"][-6:] in ("-07:00", "-08:00")


def test_query_envelope_paging_and_count(qbo: Any) -> None:
    for n in range(1, 6):
        qbo.create_customer(DisplayName=f"Customer {n}")
    page = qbo.query("select * from Customer orderby Id startposition 2 maxresults 2").json()["QueryResponse"]
    assert [c["DisplayName"] for c in page["Customer"]] == ["Customer 2", "Customer 3"]
    assert page["startPosition"] == 2 and page["maxResults"] == 2
    assert qbo.query("select * from Customer startposition 6").json()["QueryResponse"] == {}
    assert qbo.query("SELECT COUNT(*) FROM Customer").json()["QueryResponse"] == {"totalCount": 5}


def test_query_by_post_with_application_text(qbo: Any) -> None:
    qbo.create_customer(DisplayName="Amy's Bird Sanctuary")
    resp = qbo.call("POST", "/query", content="select * from Customer where DisplayName = 'amy\\'s bird sanctuary'",
                    headers={"Content-Type": "application/text"})
    assert resp.status_code == 200
    assert [c["DisplayName"] for c in resp.json()["QueryResponse"]["Customer"]] == ["Amy's Bird Sanctuary"]


def test_inactive_customers_are_hidden_unless_active_is_filtered(qbo: Any) -> None:
    keep = qbo.create_customer(DisplayName="Keeper")
    gone = qbo.create_customer(DisplayName="Leaver")
    resp = qbo.call("POST", "/customer", json={"Id": gone["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    assert resp.json()["Customer"]["Active"] is False
    default = qbo.query("select * from Customer").json()["QueryResponse"]["Customer"]
    assert [c["Id"] for c in default] == [keep["Id"]]
    both = qbo.query("select * from Customer where Active in (true, false)").json()["QueryResponse"]["Customer"]
    assert {c["Id"] for c in both} == {keep["Id"], gone["Id"]}
    assert qbo.call("GET", f"/customer/{gone['Id']}").status_code == 200  # read by id still works


def test_like_in_and_email_filters(qbo: Any) -> None:
    a = qbo.create_customer(DisplayName="Sonnenschein Family Store", PrimaryEmailAddr={"Address": "s@example.com"})
    b = qbo.create_customer(DisplayName="Sushi by Katsuyuki")
    qbo.create_customer(DisplayName="Video Games by Dan")
    like = qbo.query("select * from Customer where DisplayName like 's%'").json()["QueryResponse"]["Customer"]
    assert {c["Id"] for c in like} == {a["Id"], b["Id"]}
    ids = qbo.query(f"select * from Customer where Id in ('{a['Id']}', '{b['Id']}', '999')").json()
    assert {c["Id"] for c in ids["QueryResponse"]["Customer"]} == {a["Id"], b["Id"]}
    email = qbo.query("select * from Customer where PrimaryEmailAddr = 'S@EXAMPLE.COM'").json()
    assert [c["Id"] for c in email["QueryResponse"]["Customer"]] == [a["Id"]]


def test_or_and_unqueryable_fields_are_400_faults(qbo: Any) -> None:
    resp = qbo.query("select * from Customer where Id = '1' or Id = '2'")
    assert resp.status_code == 400
    assert fault(resp)["code"] == "4000" and "QueryParserError" in fault(resp)["Detail"]
    resp = qbo.query("select * from Customer where PrimaryPhone = '555'")
    assert resp.status_code == 400 and fault(resp)["code"] == "4000"
    assert "PrimaryPhone" in fault(resp)["Detail"]


def test_missing_customer_is_fault_610(qbo: Any) -> None:
    resp = qbo.call("GET", "/customer/4242")
    assert resp.status_code == 400
    assert resp.json()["Fault"]["type"] == "ValidationFault"
    assert fault(resp)["code"] == "610" and fault(resp)["Message"] == "Object Not Found"


def test_sparse_update_changes_only_given_fields_and_bumps_sync_token(qbo: Any) -> None:
    c = qbo.create_customer(DisplayName="Diego Rodriguez", PrimaryPhone={"FreeFormNumber": "(650) 555-4477"})
    resp = qbo.call("POST", "/customer", json={"Id": c["Id"], "SyncToken": "0", "sparse": True,
                                               "PrimaryEmailAddr": {"Address": "diego@example.com"}})
    updated = resp.json()["Customer"]
    assert updated["SyncToken"] == "1"
    assert updated["PrimaryPhone"] == {"FreeFormNumber": "(650) 555-4477"}
    assert updated["PrimaryEmailAddr"] == {"Address": "diego@example.com"}
    assert updated["MetaData"]["LastUpdatedTime"] >= c["MetaData"]["LastUpdatedTime"]


def test_full_update_clears_omitted_fields(qbo: Any) -> None:
    c = qbo.create_customer(DisplayName="Dukes Basketball Camp", PrimaryPhone={"FreeFormNumber": "555"})
    resp = qbo.call("POST", "/customer", json={"Id": c["Id"], "SyncToken": "0", "DisplayName": "Dukes Camp"})
    updated = resp.json()["Customer"]
    assert updated["DisplayName"] == "Dukes Camp" and "PrimaryPhone" not in updated


def test_stale_sync_token_is_fault_5010_with_the_documented_text(qbo: Any) -> None:
    c = qbo.create_customer(DisplayName="Freeman Sporting Goods")
    assert qbo.call("POST", "/customer", json={"Id": c["Id"], "SyncToken": "0", "sparse": True,
                                               "Notes": "first"}).status_code == 200
    resp = qbo.call("POST", "/customer", json={"Id": c["Id"], "SyncToken": "0", "sparse": True, "Notes": "second"})
    assert resp.status_code == 400
    assert fault(resp) == {
        "Message": "Stale Object Error",
        "Detail": "Stale Object Error : You and Jane Doe were working on this at the same time. Jane Doe finished "
                  "before you did, so your work was not saved.",
        "code": "5010",
        "element": "",
    }
    assert qbo.call("GET", f"/customer/{c['Id']}").json()["Customer"]["Notes"] == "first"


def test_duplicate_display_name_is_fault_6240_even_against_inactive(qbo: Any) -> None:
    c = qbo.create_customer(DisplayName="Geeta Kalapatapu")
    qbo.call("POST", "/customer", json={"Id": c["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    resp = qbo.call("POST", "/customer", json={"DisplayName": "  geeta KALAPATAPU "})
    assert resp.status_code == 400 and fault(resp)["code"] == "6240"
    assert c["Id"] in fault(resp)["Detail"]


def test_missing_name_is_2020_and_too_long_is_2050(qbo: Any) -> None:
    resp = qbo.call("POST", "/customer", json={"PrimaryEmailAddr": {"Address": "x@example.com"}})
    assert resp.status_code == 400 and fault(resp)["code"] == "2020"
    resp = qbo.call("POST", "/customer", json={"DisplayName": "x" * 501})
    assert resp.status_code == 400 and fault(resp)["code"] == "2050" and fault(resp)["element"] == "DisplayName"
    derived = qbo.create_customer(GivenName="Jeff", FamilyName="Chin")
    assert derived["DisplayName"] == "Jeff Chin"


def test_update_without_sync_token_is_2020_and_unknown_field_is_2010(qbo: Any) -> None:
    c = qbo.create_customer(DisplayName="Kookies by Kathy")
    resp = qbo.call("POST", "/customer", json={"Id": c["Id"], "sparse": True, "Notes": "x"})
    assert fault(resp)["code"] == "2020" and fault(resp)["element"] == "SyncToken"
    resp = qbo.call("POST", "/customer", json={"DisplayName": "Mark Cho", "Nickname": "M"})
    assert fault(resp)["code"] == "2010" and fault(resp)["element"] == "Nickname"


def test_repeated_requestid_returns_the_first_response_without_writing_again(qbo: Any) -> None:
    first = qbo.call("POST", "/customer", params={"requestid": "r-1"}, json={"DisplayName": "Pye's Cakes"})
    again = qbo.call("POST", "/customer", params={"requestid": "r-1"}, json={"DisplayName": "Pye's Cakes"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert qbo.query("select count(*) from Customer").json()["QueryResponse"]["totalCount"] == 1


def test_batch_answers_every_item_by_bid_with_per_item_faults(qbo: Any) -> None:
    c = qbo.create_customer(DisplayName="Rago Travel Agency")
    items = [
        {"bId": "upd", "operation": "update",
         "Customer": {"Id": c["Id"], "SyncToken": "0", "sparse": True, "Active": False}},
        {"bId": "new", "operation": "create", "Customer": {"DisplayName": "Red Rock Diner"}},
        {"bId": "dup", "operation": "create", "Customer": {"DisplayName": "red rock diner"}},
        {"bId": "del", "operation": "delete", "Customer": {"Id": c["Id"], "SyncToken": "1"}},
        {"bId": "q", "Query": "select * from Customer where Active in (true, false)"},
    ]
    resp = qbo.call("POST", "/batch", json={"BatchItemRequest": items})
    assert resp.status_code == 200
    by_id = {item["bId"]: item for item in resp.json()["BatchItemResponse"]}
    assert set(by_id) == {"upd", "new", "dup", "del", "q"}
    assert by_id["upd"]["Customer"]["Active"] is False
    assert by_id["new"]["Customer"]["DisplayName"] == "Red Rock Diner"
    assert by_id["dup"]["Fault"]["Error"][0]["code"] == "6240"
    assert "Fault" in by_id["del"]
    assert len(by_id["q"]["QueryResponse"]["Customer"]) == 2


def test_batch_over_thirty_items_is_refused(qbo: Any) -> None:
    items = [{"bId": str(i), "Query": "select * from Customer"} for i in range(31)]
    resp = qbo.call("POST", "/batch", json={"BatchItemRequest": items})
    assert resp.status_code == 400 and "Fault" in resp.json()


def test_batch_rate_limit_applies_when_enabled(start_qbo: Callable[..., Any]) -> None:
    qbo = start_qbo(config=QuickBooksSimConfig(batch_rate_limit=True))
    item = {"BatchItemRequest": [{"bId": "1", "Query": "select count(*) from Customer"}]}
    statuses = [qbo.call("POST", "/batch", json=item).status_code for _ in range(41)]
    assert statuses[:40] == [200] * 40 and statuses[40] == 429


def test_customer_balance_always_equals_open_invoice_balances(qbo: Any) -> None:
    c = qbo.create_customer(DisplayName="Shara Barnett")
    first = qbo.create_invoice(c["Id"], 100.0, 50.0)
    qbo.create_invoice(c["Id"], 25.5)
    assert first["TotalAmt"] == 150.0 and first["Balance"] == 150.0
    assert first["CustomerRef"] == {"value": c["Id"], "name": "Shara Barnett"}
    customer = qbo.call("GET", f"/customer/{c['Id']}").json()["Customer"]
    assert customer["Balance"] == customer["BalanceWithJobs"] == 175.5
    qbo.admin("POST", f"/invoices/{first['Id']}/payment", {"amount": 150})
    customer = qbo.call("GET", f"/customer/{c['Id']}").json()["Customer"]
    assert customer["Balance"] == 25.5
    invoices = qbo.query(f"select * from Invoice where CustomerRef = '{c['Id']}'").json()["QueryResponse"]["Invoice"]
    assert sum(i["Balance"] for i in invoices) == customer["Balance"]
    assert qbo.call("GET", f"/invoice/{first['Id']}").json()["Invoice"]["Balance"] == 0


def test_throttled_calls_get_429_fault_with_retry_after(qbo: Any) -> None:
    qbo.token()
    qbo.admin("PATCH", "/faults", {"rate_limit_per_minute": 3, "rate_window_s": 1})
    statuses = [qbo.query("select * from Customer") for _ in range(4)]
    throttled = statuses[-1]
    assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert throttled.headers["intuit_tid"]
    body = throttled.json()["Fault"]
    assert body["type"] == "SERVICE"
    assert body["Error"][0]["Message"] == "message=ThrottleExceeded; errorCode=003001; statusCode=429"


async def test_more_than_ten_concurrent_calls_are_throttled(start_qbo: Callable[..., Any]) -> None:
    qbo = start_qbo(faults=FaultSettings(max_concurrent=10, latency_ms=500))
    headers = {"Authorization": f"Bearer {qbo.token()}"}
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=qbo.url, headers=headers, limits=limits, timeout=10) as client:
        responses = await asyncio.gather(
            *(client.get(f"{qbo.api}/query", params={"query": "select count(*) from Customer"}) for _ in range(14))
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) <= 10 and 429 in statuses
    assert all(r.json()["Fault"]["Error"][0]["code"] == "3001" for r in responses if r.status_code == 429)


def test_record_links_open_a_page_in_the_sandbox_ui(qbo: Any) -> None:
    c = qbo.create_customer(DisplayName="Linked <Co>")
    page = qbo.http.get("/app/customerdetail", params={"nameId": c["Id"]})
    assert page.status_code == 200 and "Linked &lt;Co&gt;" in page.text
    assert qbo.http.get("/app/customerdetail", params={"nameId": "999"}).status_code == 404
