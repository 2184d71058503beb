"""`$filter` equalities are answered through per-column indexes: same answers as a full scan, even after writes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from sandbox._credentials import SandboxCredentials
from sandbox._store import Store
from sandbox.sharepoint._filter import parse_filter
from sandbox.sharepoint._lists import _DERIVED, _SYSTEM_KEYS, LISTS, Site

PREFER = {"Prefer": "HonorNonIndexedQueriesWarningMayFailRandomly"}


def scanned_ids(store: Store, site_id: str, list_title: str, expr: str) -> list[str]:
    """What the filter means: every item's fully rendered fields run through the predicate, in id order."""
    site = Site(store, site_id)
    site_list = site.find_list(list_title)
    assert site_list is not None
    predicate = parse_filter(expr, site_list.definition.known_column).predicate
    return [str(item["id"]) for item in site_list.items.all() if predicate(site.render_fields(site_list, item))]


def listed_ids(graph: httpx.Client, site_id: str, list_title: str, expr: str, top: int = 1) -> list[str]:
    """Ids the simulator answers, following every nextLink (small pages exercise the skiptoken)."""
    url: str | None = f"/sites/{site_id}/lists/{list_title}/items"
    params: dict[str, str] | None = {"$filter": expr, "$top": str(top), "expand": "fields"}
    seen: list[str] = []
    while url:
        resp = graph.get(url, params=params, headers=PREFER)
        assert resp.status_code == 200, resp.text
        seen += [item["id"] for item in resp.json()["value"]]
        url, params = resp.json().get("@odata.nextLink"), None
    return seen


@pytest.mark.parametrize(
    ("list_title", "expr"),
    [
        ("Documents", "fields/CustomerLookupId eq '1'"),
        ("Documents", "fields/CustomerLookupId eq 1"),  # numbers compare as numbers ...
        ("Documents", "fields/CustomerLookupId eq '01'"),
        ("Documents", "fields/CustomerLookupId eq 1.0"),
        ("Documents", "fields/CustomerLookupId eq '3'"),
        ("Documents", "fields/DocumentType eq 'SOW' or fields/CustomerLookupId eq '2'"),
        ("Documents", "fields/DocIcon eq 'pdf'"),
        ("Customers", "fields/EmailPrimary eq 'BIRDS@example.COM'"),  # ... and text ignoring case
        ("Customers", "fields/Title eq 'Bill''s Windsurf Shop'"),
        ("Customers", "fields/LinkTitle eq 'cool cars'"),
        ("Customers", "id eq 3"),
        ("Customers", "id eq '3'"),
        ("Customers", "fields/id eq 3 or id eq 5"),
        ("Customers", "id eq 3 and fields/Title eq 'nope'"),
        ("Customers", "fields/CustomerStatus eq 'lead' and fields/Phone eq '(415) 555-9933'"),
        ("Customers", "(fields/City eq 'Bayshore' or fields/City eq 'Middlefield') and fields/CustomerStatus eq 'lead'"),
        ("Customers", "fields/City eq 'Bayshore' or startswith(fields/Title,'cool')"),
        ("Customers", "not (fields/City eq 'Bayshore')"),
        ("Customers", "fields/CustomerStatus eq 'active'"),
        ("Customers", "fields/Modified eq 2024-05-11T09:31:44Z"),
        ("Customers", "fields/Modified eq '2024-05-11T02:31:44-07:00'"),  # the same instant, another offset
        ("Customers", "fields/Zip eq ''"),
        ("Customers", "fields/Zip eq null"),
        ("Customers", "fields/Attachments eq false"),
        ("Customers", "fields/Attachments eq 'false'"),
        ("Customers", "fields/ItemChildCount eq 0"),
        ("Customers", "fields/_UIVersionString eq 3"),
        ("Customers", "fields/ContentType eq 'item'"),
    ],
)
def test_indexed_filters_answer_what_a_full_scan_would(
    graph: httpx.Client, sp_store: Store, credentials: SandboxCredentials, list_title: str, expr: str
) -> None:
    site_id = credentials.sharepoint_site_id
    assert listed_ids(graph, site_id, list_title, expr) == scanned_ids(sp_store, site_id, list_title, expr)


def test_the_reference_scan_is_not_vacuous(sp_store: Store, credentials: SandboxCredentials) -> None:
    site_id = credentials.sharepoint_site_id
    assert scanned_ids(sp_store, site_id, "Documents", "fields/CustomerLookupId eq '01'") == ["1", "2"]
    assert scanned_ids(sp_store, site_id, "Customers", "fields/Modified eq '2024-05-11T02:31:44-07:00'") == ["1"]
    assert scanned_ids(sp_store, site_id, "Customers", "fields/ItemChildCount eq 0") == ["1", "2", "3", "4", "5"]


def test_own_columns_never_share_a_name_with_computed_ones() -> None:
    """FieldView reads own columns from the stored item, which is only right while this holds."""
    for definition in LISTS:
        computed = {"@odata.etag", *_DERIVED, *_SYSTEM_KEYS, *definition.extra_read_columns}
        assert not definition.columns & computed


def test_filters_follow_creates_updates_and_deletes(graph: httpx.Client, list_path: str) -> None:
    def by_email(email: str) -> list[str]:
        resp = graph.get(f"{list_path}/items", params={"$filter": f"fields/EmailPrimary eq '{email}'"},
                         headers=PREFER)
        return [item["id"] for item in resp.json()["value"]]

    assert by_email("bbq@example.com") == ["3"]  # the index exists before the writes below
    created = graph.post(f"{list_path}/items", json={"fields": {"Title": "New Co", "EmailPrimary": "new@example.com"}})
    new_id = created.json()["id"]
    assert by_email("new@example.com") == [new_id]
    graph.patch(f"{list_path}/items/{new_id}/fields", json={"EmailPrimary": "moved@example.com"}).raise_for_status()
    assert by_email("new@example.com") == []
    assert by_email("MOVED@example.com") == [new_id]
    graph.patch(f"{list_path}/items/3/fields", json={"EmailPrimary": "surf@example.com"}).raise_for_status()
    assert by_email("bbq@example.com") == []
    assert by_email("surf@example.com") == ["1", "3"]
    graph.patch(f"{list_path}/items/3/fields", json={"EmailPrimary": None}).raise_for_status()
    assert by_email("surf@example.com") == ["1"]
    graph.delete(f"{list_path}/items/{new_id}").raise_for_status()
    assert by_email("moved@example.com") == []
    assert graph.get(f"{list_path}/items", params={"$filter": f"id eq {new_id}"}).json()["value"] == []


def test_document_lookups_follow_out_of_band_edits_and_deletes(
    graph: httpx.Client, credentials: SandboxCredentials, sp_admin: Callable[..., httpx.Response]
) -> None:
    site_id = credentials.sharepoint_site_id
    docs = f"/sites/{site_id}/lists/Documents"

    def for_customer(customer_id: str) -> list[str]:
        return listed_ids(graph, site_id, "Documents", f"fields/CustomerLookupId eq '{customer_id}'")

    assert for_customer("1") == ["1", "2"]
    sp_admin("PATCH", "/sharepoint/lists/Documents/items/1", {"CustomerLookupId": "2"})
    assert for_customer("1") == ["2"]
    assert for_customer("2") == ["1", "3"]
    graph.delete(f"{docs}/items/3").raise_for_status()
    assert for_customer("2") == ["1"]


def test_batched_filters_see_a_write_made_just_before(graph: httpx.Client, list_path: str) -> None:
    url = f"{list_path}/items?$filter=fields/Phone eq '(650) 555-0000'"
    batch = {"requests": [{"id": "1", "method": "GET", "url": url, "headers": PREFER}]}
    assert graph.post("/$batch", json=batch).json()["responses"][0]["body"]["value"] == []
    graph.patch(f"{list_path}/items/2/fields", json={"Phone": "(650) 555-0000"}).raise_for_status()
    answer = graph.post("/$batch", json=batch).json()["responses"][0]
    assert answer["status"] == 200
    assert [item["id"] for item in answer["body"]["value"]] == ["2"]
