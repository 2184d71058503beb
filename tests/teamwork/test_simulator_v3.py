"""The v3 API of the Teamwork simulator, over real HTTP, as source-apis.md section 2 describes it."""

from __future__ import annotations

import httpx

from sandbox._credentials import SandboxCredentials
from sandbox._server import ThreadedServer
from sandbox._store import Store
from sandbox.teamwork import fidelity

V3 = "/projects/api/v3"
SAMPLE_KEYS = {
    "id", "name", "addressOne", "addressTwo", "city", "state", "zip", "countryCode", "phone", "fax",
    "website", "emailOne", "emailTwo", "emailThree", "cid", "companyNameUrl", "logoUrl", "isOwner",
    "canSeePrivate", "status", "tags", "industry", "createdAt", "updatedAt",
}
RATE_HEADERS = ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset")


def test_list_pages_with_meta_until_has_more_is_false(api: httpx.Client) -> None:
    seen, page = [], 1
    while True:
        body = api.get(f"{V3}/companies.json", params={"page": page, "pageSize": 5}).json()
        assert set(body) == {"companies", "meta", "included"}
        meta = body["meta"]["page"]
        assert meta["pageOffset"] == page - 1 and meta["pageSize"] == 5 and meta["count"] == 13
        seen += [c["id"] for c in body["companies"]]
        if not meta["hasMore"]:
            break
        page += 1
    assert seen == list(range(1, 14)) and page == 3


def test_page_size_defaults_to_50_and_is_capped(api: httpx.Client) -> None:
    assert api.get(f"{V3}/companies.json").json()["meta"]["page"]["pageSize"] == fidelity.V3_DEFAULT_PAGE_SIZE
    big = api.get(f"{V3}/companies.json", params={"pageSize": 10_000}).json()
    assert big["meta"]["page"]["pageSize"] == fidelity.V3_MAX_PAGE_SIZE


def test_get_company_has_exactly_the_documented_shape(api: httpx.Client) -> None:
    resp = api.get(f"{V3}/companies/5.json")
    assert resp.status_code == 200
    company = resp.json()["company"]
    assert set(company) == SAMPLE_KEYS
    assert company["id"] == 5 and company["emailThree"] == "" and company["isOwner"] is False


def test_search_term_is_case_insensitive_on_name_and_email(api: httpx.Client) -> None:
    by_name = api.get(f"{V3}/companies.json", params={"searchTerm": "company 07"}).json()["companies"]
    assert [c["id"] for c in by_name] == [7]
    by_email = api.get(f"{V3}/companies.json", params={"searchTerm": "BILLING9@"}).json()["companies"]
    assert [c["id"] for c in by_email] == [9]


def test_ids_filter_returns_only_those_companies(api: httpx.Client) -> None:
    body = api.get(f"{V3}/companies.json", params={"ids": "3,11,999"}).json()
    assert [c["id"] for c in body["companies"]] == [3, 11]
    assert body["meta"]["page"]["count"] == 2


def test_missing_company_is_404_with_v3_error_body(api: httpx.Client) -> None:
    for path in (f"{V3}/companies/999.json", f"{V3}/companies/abc.json"):
        resp = api.get(path)
        assert resp.status_code == 404
        assert resp.json()["errors"][0]["title"] == "Not Found"


def test_bad_or_missing_credentials_get_401(server: ThreadedServer) -> None:
    url = f"{server.url}{V3}/companies.json"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, auth=("wrong-key", "X")).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert "errors" in httpx.get(url).json()


def test_api_key_works_as_basic_user_with_any_password_and_as_bearer(
    server: ThreadedServer, credentials: SandboxCredentials
) -> None:
    url = f"{server.url}{V3}/companies/2.json"
    key = credentials.teamwork_api_key
    assert httpx.get(url, auth=(key, "anything")).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_create_returns_201_and_reads_back_country_code(api: httpx.Client, store: Store) -> None:
    resp = api.post(f"{V3}/companies.json", json={"company": {
        "name": "  Bill's Windsurf Shop ", "countrycode": "US", "emailOne": "surf@example.com", "unknownKey": 1}})
    assert resp.status_code == 201
    company = resp.json()["company"]
    assert set(company) == SAMPLE_KEYS
    assert company["name"] == "Bill's Windsurf Shop" and company["countryCode"] == "US"
    assert company["addressOne"] == "" and company["createdAt"] == company["updatedAt"]
    # Written through to the store, in the stored shape
    assert store.collection("companies").get(company["id"])["emailOne"] == "surf@example.com"
    assert api.get(f"{V3}/companies/{company['id']}.json").json()["company"] == company


def test_create_without_name_is_a_validation_error(api: httpx.Client) -> None:
    for body in ({"company": {"emailOne": "x@example.com"}}, {"company": {"name": "  "}}, {"name": "flat"}):
        resp = api.post(f"{V3}/companies.json", json=body)
        assert resp.status_code == fidelity.VALIDATION_STATUS
        assert resp.json()["errors"][0]["detail"]


def test_patch_changes_only_given_fields_and_bumps_updated_at(api: httpx.Client) -> None:
    before = api.get(f"{V3}/companies/4.json").json()["company"]
    first = api.patch(f"{V3}/companies/4.json", json={"company": {"phone": "555-1234", "countrycode": "CA"}})
    assert first.status_code == 200
    after = first.json()["company"]
    assert after["phone"] == "555-1234" and after["countryCode"] == "CA"
    unchanged = {k: v for k, v in after.items() if k not in ("phone", "countryCode", "updatedAt")}
    assert unchanged == {k: v for k, v in before.items() if k not in ("phone", "countryCode", "updatedAt")}
    assert after["updatedAt"] > before["updatedAt"]
    second = api.patch(f"{V3}/companies/4.json", json={"company": {"phone": "555-9999"}}).json()["company"]
    assert second["updatedAt"] > after["updatedAt"]  # even within the same second


def test_patch_is_last_write_wins_and_refuses_blank_name(api: httpx.Client) -> None:
    api.patch(f"{V3}/companies/6.json", json={"company": {"city": "A"}})
    api.patch(f"{V3}/companies/6.json", json={"company": {"city": "B"}})
    assert api.get(f"{V3}/companies/6.json").json()["company"]["city"] == "B"
    assert api.patch(f"{V3}/companies/6.json", json={"company": {"name": ""}}).status_code == fidelity.VALIDATION_STATUS
    assert api.patch(f"{V3}/companies/999.json", json={"company": {"city": "C"}}).status_code == 404


def test_delete_returns_204_but_never_deletes_the_owner(api: httpx.Client) -> None:
    assert api.delete(f"{V3}/companies/8.json").status_code == 204
    assert api.get(f"{V3}/companies/8.json").status_code == 404
    assert api.delete(f"{V3}/companies/1.json").status_code == fidelity.OWNER_DELETE_STATUS
    assert api.get(f"{V3}/companies/1.json").status_code == 200


def test_projects_filter_by_company_and_side_load_companies_and_owners(api: httpx.Client) -> None:
    body = api.get(f"{V3}/projects.json", params={"companyIds": "2,3", "include": "companies,users"}).json()
    assert [p["id"] for p in body["projects"]] == [100, 101, 102]
    first = body["projects"][0]
    assert {"id", "name", "status", "companyId", "startAt", "endAt", "updatedAt", "ownerId"} <= set(first)
    assert first["startAt"] == "2024-03-01" and body["projects"][2]["startAt"] is None
    assert body["included"]["companies"]["2"]["name"] == "Company 02 Ltd"
    assert body["included"]["users"]["238860"] == {"id": 238860, "firstName": "Brenda", "lastName": "Bates"}
    assert body["meta"]["page"]["count"] == 3


def test_rate_limit_headers_are_on_every_response(api: httpx.Client, server: ThreadedServer) -> None:
    for resp in (api.get(f"{V3}/companies.json"), api.get(f"{V3}/companies/999.json"),
                 httpx.get(f"{server.url}{V3}/companies.json"), api.get("/companies.json")):
        assert all(h in resp.headers for h in RATE_HEADERS), resp.status_code
    assert api.get(f"{V3}/companies.json").headers["X-Rate-Limit-Limit"] == str(
        fidelity.DOCUMENTED_RATE_LIMIT_PER_MINUTE)


def test_throttling_answers_429_with_retry_after_and_rate_headers(api: httpx.Client, admin: httpx.Client) -> None:
    admin.patch("/_admin/faults", json={"rate_limit_per_minute": 3, "rate_window_s": 1}).raise_for_status()
    statuses = [api.get(f"{V3}/companies/2.json") for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert [r.headers["X-Rate-Limit-Remaining"] for r in statuses] == ["2", "1", "0", "0"]
    throttled = statuses[-1]
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.headers["X-Rate-Limit-Limit"] == "3"
    assert int(throttled.headers["X-Rate-Limit-Reset"]) >= 1
    assert throttled.json()["errors"][0]["detail"] == fidelity.RATE_LIMIT_MESSAGE
    v1 = api.get("/companies.json")
    assert v1.status_code == 429 and v1.json() == {"MESSAGE": fidelity.RATE_LIMIT_MESSAGE, "STATUS": "Error"}


def test_throttling_can_omit_retry_after(api: httpx.Client, admin: httpx.Client) -> None:
    admin.patch("/_admin/faults", json={"rate_limit_per_minute": 1, "rate_window_s": 30, "send_retry_after": False})
    api.get(f"{V3}/companies/2.json")
    throttled = api.get(f"{V3}/companies/2.json")
    assert throttled.status_code == 429 and "Retry-After" not in throttled.headers
    assert 1 <= int(throttled.headers["X-Rate-Limit-Reset"]) <= 30


def test_outage_answers_503_in_teamwork_shape(api: httpx.Client, admin: httpx.Client) -> None:
    admin.patch("/_admin/faults", json={"outage": True})
    resp = api.get(f"{V3}/companies/2.json")
    assert resp.status_code == 503 and "errors" in resp.json()
    assert "X-Rate-Limit-Remaining" in resp.headers
