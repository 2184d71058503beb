"""The v1 (legacy) API of the Teamwork simulator over real HTTP: string ids, STATUS, X-Page headers."""

from __future__ import annotations

from pathlib import Path

import httpx

from sandbox._credentials import SandboxCredentials
from sandbox._server import ThreadedServer
from sandbox._store import Store
from sandbox.teamwork import create_teamwork_simulator, fidelity

V3 = "/projects/api/v3"


def test_companies_list_has_status_v1_keys_and_paging_headers(api: httpx.Client) -> None:
    resp = api.get("/companies.json", params={"page": 2, "pageSize": 5})
    assert resp.status_code == 200
    assert (resp.headers["X-Page"], resp.headers["X-Pages"], resp.headers["X-Records"]) == ("2", "3", "13")
    body = resp.json()
    assert body["STATUS"] == "OK"
    first = body["companies"][0]
    assert first["id"] == "6"
    assert first["address_one"] == "6 Main St" and first["email_one"] == "info6@c6.example.com"
    assert first["countrycode"] == "US" and first["country"] == "United States"
    assert first[fidelity.V1_COMPANY_UPDATED_KEY] == "2024-05-20T09:40:12Z"


def test_company_get_and_not_found_use_v1_bodies(api: httpx.Client) -> None:
    body = api.get("/companies/1.json").json()
    assert body["STATUS"] == "OK" and body["company"]["id"] == "1"
    assert body["company"][fidelity.V1_OWNER_KEY] == "1"
    missing = api.get("/companies/999.json")
    assert missing.status_code == 404
    assert missing.json()["STATUS"] == "Error" and missing.json()["MESSAGE"]


def test_v1_requires_credentials(server: ThreadedServer) -> None:
    resp = httpx.get(f"{server.url}/projects.json")
    assert resp.status_code == 401 and resp.json()["STATUS"] == "Error"


def test_v1_company_writes_are_seen_by_v3(api: httpx.Client) -> None:
    created = api.post("/companies.json", json={"company": {"name": "Legacy Co", "address_one": "1 Old Rd",
                                                            "email_one": "old@legacy.example", "countrycode": "GB"}})
    assert created.status_code == 201 and created.json()["STATUS"] == "OK"
    new_id = created.json()["id"]
    assert isinstance(new_id, str)
    v3 = api.get(f"{V3}/companies/{new_id}.json").json()["company"]
    assert (v3["addressOne"], v3["emailOne"], v3["countryCode"]) == ("1 Old Rd", "old@legacy.example", "GB")

    updated = api.put(f"/companies/{new_id}.json", json={"company": {"city": "London"}})
    assert updated.status_code == 200 and updated.json()["STATUS"] == "OK"
    after = api.get(f"{V3}/companies/{new_id}.json").json()["company"]
    assert after["city"] == "London" and after["addressOne"] == "1 Old Rd"

    assert api.delete(f"/companies/{new_id}.json").status_code == 200
    assert api.get(f"/companies/{new_id}.json").status_code == 404


def test_v1_create_without_name_is_refused(api: httpx.Client) -> None:
    resp = api.post("/companies.json", json={"company": {"city": "Nowhere"}})
    assert resp.status_code == fidelity.VALIDATION_STATUS
    assert resp.json()["STATUS"] == "Error"


def test_projects_list_by_status_with_v1_keys(api: httpx.Client) -> None:
    def ids(**params: str) -> list[str]:
        return [p["id"] for p in api.get("/projects.json", params=params).json()["projects"]]

    assert ids() == ["100", "102", "103"]  # active by default
    assert ids(status="ALL") == ["100", "101", "102", "103"]
    assert ids(status="ARCHIVED") == ["101"]
    assert api.get("/projects.json", params={"status": "BOGUS"}).status_code == 400
    project = api.get("/projects.json").json()["projects"][0]
    assert project["company"] == {"id": "2", "name": "Company 02 Ltd", "is-owner": "0"}
    assert (project["startDate"], project["endDate"]) == ("20240301", "20240630")
    assert project["last-changed-on"] == "2024-05-20T09:40:12Z" and "created-on" in project


def test_projects_page_with_x_page_headers(api: httpx.Client) -> None:
    resp = api.get("/projects.json", params={"status": "ALL", "page": 2, "pageSize": 3})
    assert (resp.headers["X-Page"], resp.headers["X-Pages"], resp.headers["X-Records"]) == ("2", "2", "4")
    assert [p["id"] for p in resp.json()["projects"]] == ["103"]


def test_projects_updated_after_date_filter(api: httpx.Client) -> None:
    resp = api.get("/projects.json", params={"status": "ALL", "updatedAfterDate": "20240301000000"})
    assert [p["id"] for p in resp.json()["projects"]] == ["100", "102", "103"]
    assert api.get("/projects.json", params={"updatedAfterDate": "2024-03-01"}).status_code == 400


def test_company_projects_and_project_create(api: httpx.Client) -> None:
    listed = api.get("/companies/2/projects.json", params={"status": "ALL"}).json()["projects"]
    assert [p["id"] for p in listed] == ["100", "101"]
    assert api.get("/companies/999/projects.json").status_code == 404

    created = api.post("/projects.json", json={"project": {"name": "Onboarding", "companyId": "3",
                                                           "start-date": "20240701", "description": "kick-off"}})
    assert created.status_code == 201
    new_id = created.json()["id"]
    assert isinstance(new_id, str)
    names = [p["name"] for p in api.get("/companies/3/projects.json").json()["projects"]]
    assert names == ["Project 102", "Onboarding"]
    assert api.post("/projects.json", json={"project": {"name": "x", "companyId": 999}}).status_code == (
        fidelity.VALIDATION_STATUS)
    assert api.post("/projects.json", json={"project": {"companyId": 3}}).status_code == fidelity.VALIDATION_STATUS


def test_records_persist_in_the_store_file(tmp_path: Path, credentials: SandboxCredentials, serve) -> None:
    path = tmp_path / "teamwork.sqlite3"
    server = serve(create_teamwork_simulator(Store(path), credentials).app)
    with httpx.Client(base_url=server.url, auth=(credentials.teamwork_api_key, "X")) as api:
        company_id = api.post(f"{V3}/companies.json", json={"company": {"name": "Kept"}}).json()["company"]["id"]
    reopened = Store(path).collection("companies").get(company_id)
    assert reopened is not None and reopened["name"] == "Kept"
