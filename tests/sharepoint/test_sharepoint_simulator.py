"""Contract tests of the Graph simulator over real HTTP: what a Graph client sees on the wire."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from sandbox._credentials import SandboxCredentials
from sandbox._server import ThreadedServer

PREFER = {"Prefer": "HonorNonIndexedQueriesWarningMayFailRandomly"}


def _error(resp: httpx.Response) -> dict:
    body = resp.json()["error"]
    assert set(body["innerError"]) >= {"date", "request-id", "client-request-id"}
    return body


# --- auth -----------------------------------------------------------------------------------------


def test_token_endpoint_issues_bearer_tokens_for_the_configured_app(
    token_url: str, credentials: SandboxCredentials
) -> None:
    resp = httpx.post(token_url, data={
        "client_id": credentials.sharepoint_client_id, "client_secret": credentials.sharepoint_client_secret,
        "scope": "https://graph.microsoft.com/.default", "grant_type": "client_credentials",
    })
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599
    assert body["access_token"].count(".") == 2


def test_token_endpoint_refuses_a_wrong_secret_oauth_style(token_url: str, credentials: SandboxCredentials) -> None:
    resp = httpx.post(token_url, data={
        "client_id": credentials.sharepoint_client_id, "client_secret": "wrong",
        "scope": "https://graph.microsoft.com/.default", "grant_type": "client_credentials",
    })
    assert resp.status_code == 401
    body = resp.json()
    assert body["error"] == "invalid_client"
    assert body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215")


def test_token_endpoint_refuses_other_grants(token_url: str, credentials: SandboxCredentials) -> None:
    resp = httpx.post(token_url, data={"client_id": credentials.sharepoint_client_id, "grant_type": "password"})
    assert resp.status_code == 400
    assert resp.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("auth", [None, "Bearer not-a-token", "Basic abc"])
def test_graph_calls_need_a_valid_bearer_token(sp_server: ThreadedServer, list_path: str, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth else {}
    resp = httpx.get(f"{sp_server.url}/v1.0{list_path}/items", headers=headers)
    assert resp.status_code == 401
    assert _error(resp)["code"] == "InvalidAuthenticationToken"
    assert "request-id" in resp.headers


def test_expired_tokens_are_refused(graph: httpx.Client, list_path: str, sp_admin: Callable) -> None:
    assert graph.get(f"{list_path}/items/1").status_code == 200
    sp_admin("POST", "/sharepoint/expire-tokens")
    resp = graph.get(f"{list_path}/items/1")
    assert resp.status_code == 401
    assert "expired" in _error(resp)["message"]


# --- reads ----------------------------------------------------------------------------------------


def test_item_has_the_documented_shape(graph: httpx.Client, list_path: str) -> None:
    resp = graph.get(f"{list_path}/items/1", params={"expand": "fields"}, headers={"client-request-id": "abc-123"})
    assert resp.status_code == 200
    assert resp.headers["client-request-id"] == "abc-123"
    assert resp.headers["request-id"]
    item = resp.json()
    assert item["@odata.context"].endswith("/items/$entity")
    assert item["id"] == "1"
    assert item["eTag"] == '"{5D2F1B5C-8C8E-4B6E-9A53-2A0C6F1D0001},3"'
    assert item["@odata.etag"] == item["eTag"]
    assert item["webUrl"].endswith("/Lists/Customers/1_.000")
    assert item["createdBy"]["user"]["email"] == "mark@contoso.com"
    assert item["parentReference"]["siteId"]
    assert item["contentType"]["name"] == "Item"
    fields = item["fields"]
    assert fields["@odata.etag"] == '"5d2f1b5c-8c8e-4b6e-9a53-2a0c6f1d0001,3"'
    assert fields["id"] == "1"
    assert fields["Title"] == fields["LinkTitle"] == "Bill's Windsurf Shop"
    assert fields["Zip"] == "94213"
    assert fields["Created"] == "2024-03-01T14:05:12Z"
    assert fields["AuthorLookupId"] == fields["EditorLookupId"] == "6"
    assert fields["_UIVersionString"] == "3.0"
    assert fields["Attachments"] is False
    assert fields["ContentType"] == "Item"


def test_empty_columns_are_left_out_of_fields(graph: httpx.Client, list_path: str) -> None:
    fields = graph.get(f"{list_path}/items/4/fields").json()
    assert "Zip" not in fields and "EmailPrimary" not in fields
    assert fields["Phone"] == "(415) 555-9933"


def test_fields_select_returns_only_the_named_columns(graph: httpx.Client, list_path: str) -> None:
    item = graph.get(f"{list_path}/items/1", params={"$expand": "fields(select=Title,City)"}).json()
    assert set(item["fields"]) == {"@odata.etag", "id", "Title", "City"}


def test_list_can_be_addressed_by_guid(graph: httpx.Client, credentials: SandboxCredentials) -> None:
    lists = graph.get(f"/sites/{credentials.sharepoint_site_id}/lists",
                      params={"$filter": "displayName eq 'Customers'"}).json()["value"]
    assert [entry["displayName"] for entry in lists] == ["Customers"]
    resp = graph.get(f"/sites/{credentials.sharepoint_site_id}/lists/{lists[0]['id']}/items/2")
    assert resp.status_code == 200


def test_missing_item_is_item_not_found(graph: httpx.Client, list_path: str) -> None:
    resp = graph.get(f"{list_path}/items/999")
    assert resp.status_code == 404
    assert _error(resp)["code"] == "itemNotFound"


def test_paging_follows_opaque_next_links(graph: httpx.Client, list_path: str) -> None:
    seen: list[str] = []
    url: str | None = f"{list_path}/items?expand=fields(select=Title)&$top=2"
    pages = 0
    while url:
        body = graph.get(url).json()
        seen += [item["id"] for item in body["value"]]
        assert all(set(item["fields"]) == {"@odata.etag", "id", "Title"} for item in body["value"])
        url = body.get("@odata.nextLink")
        pages += 1
        assert url is None or "$skiptoken=" in url
    assert seen == ["1", "2", "3", "4", "5"]
    assert pages == 3


@pytest.mark.parametrize(
    ("expr", "ids"),
    [
        ("fields/EmailPrimary eq 'birds@example.com'", ["2"]),
        ("startswith(fields/Title,'bill')", ["1", "3"]),
        ("fields/Title eq 'Bill''s Windsurf Shop'", ["1"]),
        ("fields/CustomerStatus eq 'lead' and fields/Phone eq '(415) 555-9933'", ["4"]),
        ("fields/City eq 'Bayshore' or fields/City eq 'Middlefield'", ["2", "5"]),
        ("fields/CustomerStatus ne 'active'", ["2", "4"]),
        ("fields/Modified ge '2024-05-13T00:00:00Z'", ["3", "4", "5"]),
        ("fields/Modified lt 2024-05-12T00:00:00Z", ["1"]),
        ("id gt 3", ["4", "5"]),
    ],
)
def test_filters_select_matching_items(graph: httpx.Client, list_path: str, expr: str, ids: list[str]) -> None:
    resp = graph.get(f"{list_path}/items", params={"$filter": expr, "expand": "fields"}, headers=PREFER)
    assert resp.status_code == 200, resp.text
    assert [item["id"] for item in resp.json()["value"]] == ids


def test_filter_on_a_non_indexed_column_needs_the_prefer_header(graph: httpx.Client, list_path: str) -> None:
    resp = graph.get(f"{list_path}/items", params={"$filter": "fields/EmailPrimary eq 'bbq@example.com'"})
    assert resp.status_code == 400
    error = _error(resp)
    assert error["code"] == "invalidRequest"
    assert "Field 'EmailPrimary' cannot be referenced in filter or orderby as it is not indexed" in error["message"]
    assert "Prefer: HonorNonIndexedQueriesWarningMayFailRandomly" in error["message"]


def test_indexed_columns_filter_without_the_prefer_header(
    graph: httpx.Client, list_path: str, sp_admin: Callable
) -> None:
    sp_admin("PATCH", "/sharepoint", {"indexed_columns": ["EmailPrimary"]})
    resp = graph.get(f"{list_path}/items", params={"$filter": "fields/EmailPrimary eq 'bbq@example.com'"})
    assert [item["id"] for item in resp.json()["value"]] == ["3"]


@pytest.mark.parametrize("expr", ["fields/Nope eq 'x'", "fields/Title eq", "createdDateTime ge '2024-01-01'"])
def test_bad_filters_are_invalid_requests(graph: httpx.Client, list_path: str, expr: str) -> None:
    resp = graph.get(f"{list_path}/items", params={"$filter": expr}, headers=PREFER)
    assert resp.status_code == 400
    assert _error(resp)["code"] == "invalidRequest"


# --- writes ---------------------------------------------------------------------------------------


def test_create_returns_the_new_item(graph: httpx.Client, list_path: str) -> None:
    resp = graph.post(f"{list_path}/items", json={"fields": {"Title": "New Co", "EmailPrimary": "new@example.com",
                                                              "CustomerStatus": "lead", "City": ""}})
    assert resp.status_code == 201
    item = resp.json()
    assert item["id"] == "6"
    assert item["fields"]["Title"] == "New Co"
    assert item["fields"]["_UIVersionString"] == "1.0"
    assert "City" not in item["fields"]
    assert graph.get(f"{list_path}/items/6/fields").json()["EmailPrimary"] == "new@example.com"


@pytest.mark.parametrize(
    "fields", [{"Title": "X", "Nickname": "y"}, {"Title": "X", "CustomerStatus": "prospect"}, {"City": "No title"}]
)
def test_create_refuses_invalid_fields(graph: httpx.Client, list_path: str, fields: dict) -> None:
    resp = graph.post(f"{list_path}/items", json={"fields": fields})
    assert resp.status_code == 400
    assert _error(resp)["code"] == "invalidRequest"


def test_update_with_current_etag_bumps_the_version(graph: httpx.Client, list_path: str) -> None:
    before = graph.get(f"{list_path}/items/2", params={"expand": "fields"}).json()
    resp = graph.patch(f"{list_path}/items/2/fields", json={"City": "Palo Alto", "Phone": None},
                       headers={"If-Match": before["eTag"]})
    assert resp.status_code == 200
    fields = resp.json()
    assert fields["City"] == "Palo Alto"
    assert "Phone" not in fields
    assert fields["Title"] == "Amy's Bird Sanctuary"
    assert fields["@odata.etag"].endswith(',4"')
    assert fields["_UIVersionString"] == "4.0"
    assert fields["Modified"] > before["fields"]["Modified"]
    assert fields["EditorLookupId"] != before["fields"]["EditorLookupId"]
    # The fields eTag shape is accepted as well.
    again = graph.patch(f"{list_path}/items/2/fields", json={"Zip": "94301"},
                        headers={"If-Match": fields["@odata.etag"]})
    assert again.status_code == 200


def test_update_with_a_stale_etag_is_refused_and_changes_nothing(graph: httpx.Client, list_path: str) -> None:
    stale = graph.get(f"{list_path}/items/3").json()["eTag"]
    assert graph.patch(f"{list_path}/items/3/fields", json={"City": "A"}).status_code == 200
    resp = graph.patch(f"{list_path}/items/3/fields", json={"City": "B"}, headers={"If-Match": stale})
    assert resp.status_code == 412
    _error(resp)
    fields = graph.get(f"{list_path}/items/3/fields").json()
    assert fields["City"] == "A"
    assert fields["_UIVersionString"] == "4.0"


def test_delete_removes_the_item(graph: httpx.Client, list_path: str) -> None:
    assert graph.delete(f"{list_path}/items/5").status_code == 204
    assert graph.get(f"{list_path}/items/5").status_code == 404


# --- documents ------------------------------------------------------------------------------------


def test_documents_library_filters_by_customer_and_gives_file_details(
    graph: httpx.Client, credentials: SandboxCredentials
) -> None:
    docs = f"/sites/{credentials.sharepoint_site_id}/lists/Documents/items"
    resp = graph.get(docs, headers=PREFER, params={
        "expand": "fields(select=FileLeafRef,DocumentType,CustomerLookupId,Modified,Customer)",
        "$filter": "fields/CustomerLookupId eq '1'",
    })
    items = resp.json()["value"]
    assert [item["fields"]["FileLeafRef"] for item in items] == [
        "Proposal - Bill's Windsurf Shop.docx", "SOW - Bill's Windsurf Shop.pdf"]
    assert items[0]["fields"]["Customer"] == "Bill's Windsurf Shop"
    drive_item = graph.get(f"{docs}/1/driveItem").json()
    assert drive_item["size"] == 48211
    assert drive_item["file"]["mimeType"].endswith("wordprocessingml.document")
    download = httpx.get(drive_item["@microsoft.graph.downloadUrl"])
    assert download.status_code == 200
    assert len(download.content) == 48211


# --- $batch and throttling ------------------------------------------------------------------------


def test_batch_runs_each_sub_request_and_answers_per_item(graph: httpx.Client, list_path: str) -> None:
    resp = graph.post("/$batch", json={"requests": [
        {"id": "a", "method": "GET", "url": f"{list_path}/items/1?expand=fields"},
        {"id": "b", "method": "GET", "url": f"{list_path}/items/42"},
        {"id": "c", "method": "PATCH", "url": f"{list_path}/items/2/fields", "body": {"City": "Batchville"},
         "headers": {"Content-Type": "application/json"}},
        {"id": "d", "method": "GET", "url": f"{list_path}/items?$filter=fields/Title eq 'Cool Cars'",
         "headers": PREFER},
    ]})
    assert resp.status_code == 200
    responses = {r["id"]: r for r in resp.json()["responses"]}
    assert responses["a"]["status"] == 200 and responses["a"]["body"]["fields"]["Title"] == "Bill's Windsurf Shop"
    assert responses["b"]["status"] == 404 and responses["b"]["body"]["error"]["code"] == "itemNotFound"
    assert responses["c"]["status"] == 200 and responses["c"]["body"]["City"] == "Batchville"
    assert [item["id"] for item in responses["d"]["body"]["value"]] == ["4"]


def test_batch_refuses_more_than_twenty_requests(graph: httpx.Client, list_path: str) -> None:
    requests = [{"id": str(i), "method": "GET", "url": f"{list_path}/items/1"} for i in range(21)]
    resp = graph.post("/$batch", json={"requests": requests})
    assert resp.status_code == 400
    assert _error(resp)["code"] == "invalidRequest"


def test_throttled_calls_get_429_with_retry_after(graph: httpx.Client, list_path: str, sp_admin: Callable) -> None:
    sp_admin("PATCH", "/faults", {"rate_limit_per_minute": 3, "rate_window_s": 1})
    statuses = [graph.get(f"{list_path}/items/1") for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    throttled = statuses[-1]
    assert int(throttled.headers["Retry-After"]) >= 1
    error = _error(throttled)
    assert error["code"] == "activityLimitReached"
    assert error["innerError"]["code"] == "throttledRequest"


def test_batch_sub_requests_are_throttled_one_by_one(
    graph: httpx.Client, list_path: str, sp_admin: Callable
) -> None:
    sp_admin("PATCH", "/faults", {"rate_limit_per_minute": 3, "rate_window_s": 1})
    requests = [{"id": str(i), "method": "GET", "url": f"{list_path}/items/{i}"} for i in range(1, 5)]
    resp = graph.post("/$batch", json={"requests": requests})
    assert resp.status_code == 200
    by_status = sorted(r["status"] for r in resp.json()["responses"])
    assert by_status == [200, 200, 429, 429]  # the $batch call itself took one of the three units
    throttled = [r for r in resp.json()["responses"] if r["status"] == 429]
    assert all(int(r["headers"]["Retry-After"]) >= 1 for r in throttled)
    assert throttled[0]["body"]["error"]["code"] == "activityLimitReached"


def test_outage_answers_service_not_available(graph: httpx.Client, list_path: str, sp_admin: Callable) -> None:
    sp_admin("PATCH", "/faults", {"outage": True})
    resp = graph.get(f"{list_path}/items/1")
    assert resp.status_code == 503
    assert _error(resp)["code"] == "serviceNotAvailable"


def test_out_of_band_edit_moves_the_version_like_a_person_would(
    graph: httpx.Client, list_path: str, sp_admin: Callable
) -> None:
    sp_admin("PATCH", "/sharepoint/lists/Customers/items/1", {"City": "Pacifica"})
    fields = graph.get(f"{list_path}/items/1/fields").json()
    assert fields["City"] == "Pacifica"
    assert fields["_UIVersionString"] == "4.0"
    assert fields["EditorLookupId"] == "6"
