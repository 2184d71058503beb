"""Teamwork webhooks (source-apis.md 2.5): v1 registrations and signed JSON v2 deliveries over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sandbox._credentials import SandboxCredentials
from sandbox._server import ThreadedServer
from tests.support.receiver import Receiver

V3 = "/projects/api/v3"


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def hook_url(receiver: Receiver, serve: Callable[..., ThreadedServer]) -> str:
    return f"{serve(receiver.app).url}/webhooks/teamwork"


@pytest.fixture
def register(api: httpx.Client, credentials: SandboxCredentials) -> Callable[..., str]:
    def create(event: str, url: str, **extra: Any) -> str:
        body = {"event": event, "url": url, "token": credentials.teamwork_webhook_token,
                "contentType": "application/json", "version": 2, **extra}
        resp = api.post("/webhooks.json", json={"webhook": body})
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    return create


def _signed_by(token: str, body: bytes) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def test_registrations_are_listed_without_their_token(register: Callable[..., str], api: httpx.Client,
                                                      hook_url: str) -> None:
    hook_id = register("company.updated", hook_url)
    [listed] = api.get("/webhooks.json").json()["webhooks"]
    assert listed["id"] == hook_id
    assert (listed["event"], listed["url"], listed["status"], listed["version"]) == (
        "COMPANY.UPDATED", hook_url, "active", 2)
    assert listed["hasToken"] is True and "token" not in listed
    assert api.get(f"/webhooks/{hook_id}.json").json()["webhook"]["id"] == hook_id


@pytest.mark.parametrize(("change", "field"), [
    ({"event": "COMPANY.EXPLODED"}, "event"),
    ({"url": "ftp://example.com/x"}, "url"),
    ({"contentType": "application/xml"}, "contentType"),
    ({"version": 1}, "version"),
])
def test_unusable_registrations_are_refused(api: httpx.Client, hook_url: str, change: dict[str, Any],
                                            field: str) -> None:
    body = {"event": "COMPANY.UPDATED", "url": hook_url, "token": "t", "version": 2, **change}
    resp = api.post("/webhooks.json", json={"webhook": body})
    assert resp.status_code == 422
    assert resp.json()["STATUS"] == "Error"
    assert api.get("/webhooks.json").json()["webhooks"] == []


def test_a_v3_patch_delivers_a_signed_company_updated(
    register: Callable[..., str], api: httpx.Client, receiver: Receiver, hook_url: str,
    credentials: SandboxCredentials,
) -> None:
    register("COMPANY.UPDATED", hook_url)
    updated = api.patch(f"{V3}/companies/5.json", json={"company": {"city": "Shelbyville"}}).json()["company"]

    [hit] = receiver.wait_for(1)
    assert hit.headers["x-projects-event"] == "COMPANY.UPDATED"
    assert hit.headers["content-type"].startswith("application/json")
    assert hmac.compare_digest(hit.headers["x-projects-signature"],
                               _signed_by(credentials.teamwork_webhook_token, hit.body))
    body = hit.json()
    assert set(body["eventCreator"]) >= {"id", "firstName", "lastName", "avatar"}
    assert body["company"]["id"] == 5
    assert body["company"]["city"] == "Shelbyville"
    assert body["company"]["updatedAt"] == updated["updatedAt"]


def test_created_and_deleted_companies_fire_their_events(
    register: Callable[..., str], api: httpx.Client, receiver: Receiver, hook_url: str,
) -> None:
    register("COMPANY.CREATED", f"{hook_url}/created")
    register("COMPANY.DELETED", f"{hook_url}/deleted")
    created = api.post(f"{V3}/companies.json", json={"company": {"name": "Fresh Co"}}).json()["company"]
    [hit] = receiver.wait_for(1, path="/webhooks/teamwork/created")
    assert hit.headers["x-projects-event"] == "COMPANY.CREATED"
    assert hit.json()["company"]["name"] == "Fresh Co"

    assert api.delete(f"{V3}/companies/{created['id']}.json").status_code == 204
    [hit] = receiver.wait_for(1, path="/webhooks/teamwork/deleted")
    assert hit.headers["x-projects-event"] == "COMPANY.DELETED"
    company = hit.json()["company"]
    assert (company["id"], company["status"]) == (created["id"], "deleted")
    assert company["updatedAt"] > created["updatedAt"]


def test_v1_writes_fire_the_same_events(register: Callable[..., str], api: httpx.Client, receiver: Receiver,
                                        hook_url: str) -> None:
    register("COMPANY.UPDATED", hook_url)
    assert api.put("/companies/3.json", json={"company": {"zip": "99999"}}).status_code == 200
    [hit] = receiver.wait_for(1)
    assert hit.json()["company"]["zip"] == "99999"


def test_quick_changes_are_all_delivered_in_order(register: Callable[..., str], api: httpx.Client,
                                                  receiver: Receiver, hook_url: str) -> None:
    register("COMPANY.UPDATED", hook_url)
    for n in range(15):
        api.patch(f"{V3}/companies/4.json", json={"company": {"cid": f"rev-{n}"}})
    hits = receiver.wait_for(15)
    assert [hit.json()["company"]["cid"] for hit in hits] == [f"rev-{n}" for n in range(15)]


def test_a_registration_without_token_is_not_signed(api: httpx.Client, receiver: Receiver, hook_url: str) -> None:
    body = {"event": "COMPANY.UPDATED", "url": hook_url, "contentType": "application/json", "version": 2}
    assert api.post("/webhooks.json", json={"webhook": body}).status_code == 201
    api.patch(f"{V3}/companies/6.json", json={"company": {"city": "Ogdenville"}})
    [hit] = receiver.wait_for(1)
    assert "x-projects-signature" not in hit.headers


def test_deleted_registrations_get_nothing(register: Callable[..., str], api: httpx.Client, receiver: Receiver,
                                           hook_url: str, admin: httpx.Client) -> None:
    gone = register("COMPANY.UPDATED", f"{hook_url}/gone")
    register("COMPANY.UPDATED", f"{hook_url}/kept")
    assert api.delete(f"/webhooks/{gone}.json").status_code == 200
    assert api.get(f"/webhooks/{gone}.json").status_code == 404
    api.patch(f"{V3}/companies/7.json", json={"company": {"city": "North Haverbrook"}})
    receiver.wait_for(1, path="/webhooks/teamwork/kept")
    assert receiver.notifications("/webhooks/teamwork/gone") == []
    assert admin.get("/_admin/deliveries").json()["queued"] == 1


def test_only_200_counts_and_failures_are_retried(register: Callable[..., str], api: httpx.Client,
                                                  serve: Callable[..., ThreadedServer], admin: httpx.Client) -> None:
    picky = Receiver(statuses=[500, 204])
    register("COMPANY.UPDATED", f"{serve(picky.app).url}/hook")
    admin.patch("/_admin/deliveries", json={"backoff_s": 0.05})
    api.patch(f"{V3}/companies/8.json", json={"company": {"city": "Capital City"}})
    first, second, third = picky.wait_for(3)
    assert first.body == second.body == third.body
    deadline = time.monotonic() + 5
    while admin.get("/_admin/deliveries").json()["delivered"] != 1:
        assert time.monotonic() < deadline


def test_a_webhook_is_deactivated_after_repeated_drops(register: Callable[..., str], api: httpx.Client,
                                                       serve: Callable[..., ThreadedServer],
                                                       admin: httpx.Client) -> None:
    broken = Receiver(default_status=500)
    hook_id = register("COMPANY.UPDATED", f"{serve(broken.app).url}/hook")
    admin.patch("/_admin/deliveries", json={"attempts": 1})
    for n in range(3):
        api.patch(f"{V3}/companies/9.json", json={"company": {"cid": f"x{n}"}})
    broken.wait_for(3)
    deadline = time.monotonic() + 5
    while api.get(f"/webhooks/{hook_id}.json").json()["webhook"]["status"] != "inactive":
        assert time.monotonic() < deadline, "the webhook was not deactivated"
        time.sleep(0.02)
    api.patch(f"{V3}/companies/9.json", json={"company": {"cid": "ignored"}})
    assert admin.get("/_admin/deliveries").json()["queued"] == 3
    # Saving it again switches it back on.
    assert api.put(f"/webhooks/{hook_id}.json", json={"webhook": {}}).json()["STATUS"] == "OK"
    assert api.get(f"/webhooks/{hook_id}.json").json()["webhook"]["status"] == "active"


def test_v3_companies_updated_at_moves_on_every_write(api: httpx.Client) -> None:
    """The gateway's updated-after scan relies on it (Teamwork has no change feed)."""
    seen = []
    for n in range(3):
        api.patch(f"{V3}/companies/10.json", json={"company": {"cid": f"v{n}"}})
        [company] = [c for c in api.get(f"{V3}/companies.json", params={"ids": "10"}).json()["companies"]]
        seen.append(company["updatedAt"])
    assert seen == sorted(set(seen))
