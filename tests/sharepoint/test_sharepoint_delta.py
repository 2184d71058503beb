"""Graph's list-item change feed (`/items/delta`, source-apis.md 1.6) over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from sandbox._credentials import SandboxCredentials
from sandbox._server import ThreadedServer
from sandbox._store import Store
from sandbox.sharepoint import create_sharepoint_simulator
from tests.sharepoint._data import CUSTOMERS
from tests.sharepoint.conftest import AdminCall, get_token


def _enumerate(graph: httpx.Client, url: str, **params: str) -> tuple[list[dict[str, Any]], str, int]:
    """Follow nextLinks to the end: (every item, the deltaLink, pages read)."""
    page = graph.get(url, params=params or None)
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        assert page.status_code == 200, page.text
        body = page.json()
        pages += 1
        items += body["value"]
        if "@odata.nextLink" not in body:
            assert "@odata.deltaLink" in body
            return items, body["@odata.deltaLink"], pages
        assert "@odata.deltaLink" not in body
        page = graph.get(body["@odata.nextLink"])


def test_first_call_enumerates_the_list_in_pages_and_ends_with_a_delta_link(graph: httpx.Client,
                                                                            list_path: str) -> None:
    items, delta_link, pages = _enumerate(graph, f"{list_path}/items/delta", **{"$expand": "fields", "$top": "2"})
    assert pages == 3
    assert [i["id"] for i in items] == ["1", "2", "3", "4", "5"]
    assert items[0]["fields"]["Title"] == "Bill's Windsurf Shop"
    assert "?token=" in delta_link and delta_link.startswith("http://127.0.0.1:")


def test_delta_link_returns_the_changed_item_in_its_latest_state_and_a_new_link(
    graph: httpx.Client, list_path: str
) -> None:
    _, delta_link, _ = _enumerate(graph, f"{list_path}/items/delta", **{"$expand": "fields"})
    assert graph.patch(f"{list_path}/items/2/fields", json={"City": "Pacifica"}).status_code == 200
    assert graph.patch(f"{list_path}/items/2/fields", json={"Phone": "(650) 555-0000"}).status_code == 200

    body = graph.get(delta_link).json()
    assert [i["id"] for i in body["value"]] == ["2"]  # twice changed, once in the feed
    fields = body["value"][0]["fields"]
    assert (fields["City"], fields["Phone"]) == ("Pacifica", "(650) 555-0000")
    assert body["@odata.deltaLink"] != delta_link
    assert "@odata.nextLink" not in body

    again = graph.get(body["@odata.deltaLink"]).json()
    assert again["value"] == []
    assert again["@odata.deltaLink"]


def test_deleted_items_come_as_deleted_stubs(graph: httpx.Client, list_path: str) -> None:
    _, delta_link, _ = _enumerate(graph, f"{list_path}/items/delta")
    assert graph.delete(f"{list_path}/items/3").status_code == 204
    body = graph.get(delta_link).json()
    assert body["value"] == [{"id": "3", "deleted": {"state": "deleted"}}]


def test_created_and_out_of_band_edited_items_appear_too(graph: httpx.Client, list_path: str,
                                                         sp_admin: AdminCall) -> None:
    _, delta_link, _ = _enumerate(graph, f"{list_path}/items/delta", **{"$expand": "fields"})
    created = graph.post(f"{list_path}/items", json={"fields": {"Title": "New Shop", "CustomerStatus": "lead"}})
    assert created.status_code == 201
    sp_admin("PATCH", "/sharepoint/lists/Customers/items/4", {"City": "Sausalito"})
    body = graph.get(delta_link).json()
    assert [(i["id"], i["fields"].get("City")) for i in body["value"]] == [("4", "Sausalito"),
                                                                          (created.json()["id"], None)]


def test_token_latest_starts_from_now(graph: httpx.Client, list_path: str) -> None:
    graph.patch(f"{list_path}/items/1/fields", json={"City": "Before"})
    body = graph.get(f"{list_path}/items/delta", params={"token": "latest"}).json()
    assert body["value"] == []
    assert "@odata.deltaLink" in body
    graph.patch(f"{list_path}/items/5/fields", json={"City": "After"})
    assert [i["id"] for i in graph.get(body["@odata.deltaLink"]).json()["value"]] == ["5"]


def test_select_narrows_item_properties(graph: httpx.Client, list_path: str) -> None:
    body = graph.get(f"{list_path}/items/delta", params={"$select": "id,lastModifiedDateTime", "$top": "1"}).json()
    assert set(body["value"][0]) == {"@odata.etag", "id", "lastModifiedDateTime"}
    # The options travel with the links.
    assert "$select=id,lastModifiedDateTime" in body["@odata.nextLink"]


def test_an_unknown_token_is_410_with_a_location_to_start_over(graph: httpx.Client, list_path: str) -> None:
    resp = graph.get(f"{list_path}/items/delta", params={"token": "bm90LWEtdG9rZW4", "$expand": "fields"})
    assert resp.status_code == 410
    assert resp.json()["error"]["code"] == "resyncChangesApplyDifferences"
    location = resp.headers["Location"]
    assert urlsplit(location).path.endswith("/items/delta") and "token" not in location
    restart = graph.get(location)
    assert restart.status_code == 200 and "@odata.deltaLink" in restart.json()


def test_expired_tokens_are_410(graph: httpx.Client, list_path: str, sp_admin: AdminCall) -> None:
    _, delta_link, _ = _enumerate(graph, f"{list_path}/items/delta")
    sp_admin("POST", "/sharepoint/expire-delta-tokens")
    resp = graph.get(delta_link)
    assert resp.status_code == 410
    assert resp.json()["error"]["code"] == "resyncChangesApplyDifferences"


def test_a_delta_link_stays_valid_across_a_restart_on_the_same_data(
    tmp_path: Path, credentials: SandboxCredentials, serve: Callable[..., ThreadedServer]
) -> None:
    path = tmp_path / "sharepoint.sqlite3"
    store = Store(path)
    store.collection("customers").put_many((c["id"], c) for c in CUSTOMERS)
    first = serve(create_sharepoint_simulator(store, credentials).app)
    token_path = f"/{credentials.sharepoint_tenant}/oauth2/v2.0/token"
    headers = {"Authorization": f"Bearer {get_token(first.url + token_path, credentials)}"}
    list_url = f"{first.url}/v1.0/sites/{credentials.sharepoint_site_id}/lists/Customers"
    delta_link = httpx.get(f"{list_url}/items/delta", headers=headers, params={"token": "latest"}).json()[
        "@odata.deltaLink"]
    assert httpx.delete(f"{list_url}/items/5", headers=headers).status_code == 204
    first.stop()
    store.close()

    second = serve(create_sharepoint_simulator(Store(path), credentials).app)
    headers = {"Authorization": f"Bearer {get_token(second.url + token_path, credentials)}"}
    moved = second.url + delta_link.removeprefix(first.url)
    list_url = f"{second.url}/v1.0/sites/{credentials.sharepoint_site_id}/lists/Customers"
    assert httpx.patch(f"{list_url}/items/1/fields", headers=headers, json={"City": "Later"}).status_code == 200
    created = httpx.post(f"{list_url}/items", headers=headers, json={"fields": {"Title": "After restart"}}).json()
    body = httpx.get(moved, headers=headers).json()
    assert [i["id"] for i in body["value"]] == ["1", "5", created["id"]]
    assert body["value"][1] == {"id": "5", "deleted": {"state": "deleted"}}
    assert created["id"] == "6"  # a deleted item's id is never handed out again
