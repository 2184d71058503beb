"""Graph change notifications for the Customers list (source-apis.md 1.7): subscriptions, handshake, deliveries."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from sandbox._credentials import SandboxCredentials
from sandbox._server import ThreadedServer
from tests.sharepoint.conftest import AdminCall
from tests.support.receiver import Receiver

Serve = Callable[..., ThreadedServer]


def _in(minutes: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


@pytest.fixture
def receiver() -> Receiver:
    return Receiver(default_status=202)


@pytest.fixture
def receiver_url(receiver: Receiver, serve: Serve) -> str:
    return serve(receiver.app).url


@pytest.fixture
def resource(credentials: SandboxCredentials, graph: httpx.Client) -> str:
    list_id = graph.get(f"/sites/{credentials.sharepoint_site_id}/lists/Customers").json()["id"]
    return f"sites/{credentials.sharepoint_site_id}/lists/{list_id}"


@pytest.fixture
def subscribe(graph: httpx.Client, resource: str) -> Callable[..., httpx.Response]:
    def create(url: str, **overrides: Any) -> httpx.Response:
        body = {"changeType": "updated", "notificationUrl": url, "resource": resource,
                "expirationDateTime": _in(60), "clientState": "s3cret-state", **overrides}
        return graph.post("/subscriptions", json=body)

    return create


def test_a_receiver_that_echoes_the_token_gets_a_subscription(
    subscribe: Callable[..., httpx.Response], receiver: Receiver, receiver_url: str, graph: httpx.Client,
    resource: str,
) -> None:
    resp = subscribe(f"{receiver_url}/hooks/graph")
    assert resp.status_code == 201, resp.text
    sub = resp.json()
    assert sub["resource"] == resource
    assert (sub["changeType"], sub["clientState"]) == ("updated", "s3cret-state")
    assert sub["notificationUrl"] == f"{receiver_url}/hooks/graph"
    assert sub["expirationDateTime"].endswith("Z")

    [validation] = receiver.received(lambda hit: hit.is_validation)
    assert validation.path == "/hooks/graph"
    assert validation.query["validationToken"].startswith("Validation: ")
    assert validation.headers["content-type"].startswith("text/plain")
    assert [s["id"] for s in graph.get("/subscriptions").json()["value"]] == [sub["id"]]
    assert graph.get(f"/subscriptions/{sub['id']}").json()["id"] == sub["id"]


def test_a_receiver_that_does_not_echo_gets_400_and_no_subscription(
    subscribe: Callable[..., httpx.Response], serve: Serve, graph: httpx.Client
) -> None:
    silent = Receiver(echo_validation=False)
    resp = subscribe(f"{serve(silent.app).url}/hooks/graph")
    assert resp.status_code == 400
    assert resp.json()["error"]["message"].startswith("Subscription validation request failed")
    assert len(silent.received()) == 1
    assert graph.get("/subscriptions").json()["value"] == []


@pytest.mark.parametrize(("overrides", "message"), [
    ({"notificationUrl": "http://example.com/hook"}, "https"),
    ({"changeType": "created"}, "not supported"),
    ({"expirationDateTime": _in(42_300 + 60)}, "42300 minutes"),
])
def test_invalid_subscriptions_are_refused_before_any_handshake(
    subscribe: Callable[..., httpx.Response], receiver: Receiver, receiver_url: str, overrides: dict[str, str],
    message: str,
) -> None:
    resp = subscribe(f"{receiver_url}/hooks/graph", **overrides)
    assert resp.status_code == 400
    assert message in resp.json()["error"]["message"]
    assert receiver.received() == []


def test_a_change_notifies_with_the_client_state_and_no_item_data(
    subscribe: Callable[..., httpx.Response], receiver: Receiver, receiver_url: str, graph: httpx.Client,
    list_path: str, resource: str, credentials: SandboxCredentials,
) -> None:
    sub = subscribe(f"{receiver_url}/hooks/graph").json()
    assert graph.patch(f"{list_path}/items/2/fields", json={"City": "Pacifica"}).status_code == 200

    [hit] = receiver.wait_for(1)
    assert hit.path == "/hooks/graph"
    assert hit.headers["content-type"].startswith("application/json")
    [note] = hit.json()["value"]
    assert note["subscriptionId"] == sub["id"]
    assert note["clientState"] == "s3cret-state"
    assert note["changeType"] == "updated"
    assert note["resource"] == resource
    assert note["resourceData"] == {}
    assert note["tenantId"] and note["subscriptionExpirationDateTime"]
    assert "Pacifica" not in hit.body.decode()


def test_creates_deletes_and_out_of_band_edits_notify_as_updated(
    subscribe: Callable[..., httpx.Response], receiver: Receiver, receiver_url: str, graph: httpx.Client,
    list_path: str, sp_admin: AdminCall,
) -> None:
    subscribe(f"{receiver_url}/hooks/graph")
    graph.post(f"{list_path}/items", json={"fields": {"Title": "New Shop"}})
    receiver.wait_for(1)
    graph.delete(f"{list_path}/items/4")
    receiver.wait_for(2)
    sp_admin("PATCH", "/sharepoint/lists/Customers/items/1", {"City": "Moss Beach"})
    hits = receiver.wait_for(3)
    assert {note["changeType"] for hit in hits for note in hit.json()["value"]} == {"updated"}


def test_changes_made_together_share_one_post(
    subscribe: Callable[..., httpx.Response], receiver: Receiver, receiver_url: str, graph: httpx.Client,
    list_path: str,
) -> None:
    subscribe(f"{receiver_url}/hooks/graph")
    requests = [{"id": str(n), "method": "PATCH", "url": f"{list_path}/items/{n}/fields",
                 "headers": {"Content-Type": "application/json"}, "body": {"City": "Batchville"}} for n in (1, 2, 3)]
    assert graph.post("/$batch", json={"requests": requests}).status_code == 200
    [hit] = receiver.wait_for(1)
    assert len(hit.json()["value"]) == 1


def test_renewal_moves_the_expiration_and_delete_stops_notifications(
    subscribe: Callable[..., httpx.Response], receiver: Receiver, receiver_url: str, graph: httpx.Client,
    list_path: str, sp_admin: AdminCall,
) -> None:
    sub = subscribe(f"{receiver_url}/hooks/old").json()
    later = _in(3 * 24 * 60)
    renewed = graph.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": later})
    assert renewed.status_code == 200
    assert renewed.json()["expirationDateTime"][:19] == later[:19]
    too_late = graph.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": _in(50_000)})
    assert too_late.status_code == 400

    assert graph.delete(f"/subscriptions/{sub['id']}").status_code == 204
    assert graph.get(f"/subscriptions/{sub['id']}").status_code == 404
    subscribe(f"{receiver_url}/hooks/new")
    graph.patch(f"{list_path}/items/1/fields", json={"City": "Elsewhere"})
    receiver.wait_for(1, path="/hooks/new")
    # Both receivers' notifications are queued by the same change; only the live one was.
    assert receiver.notifications("/hooks/old") == []
    assert sp_admin("GET", "/deliveries").json()["queued"] == 1


def test_expired_subscriptions_are_removed_and_notify_no_more(
    subscribe: Callable[..., httpx.Response], receiver: Receiver, receiver_url: str, graph: httpx.Client,
    list_path: str, sp_admin: AdminCall,
) -> None:
    sub = subscribe(f"{receiver_url}/hooks/graph").json()
    sp_admin("POST", "/sharepoint/expire-subscriptions")
    assert graph.get(f"/subscriptions/{sub['id']}").status_code == 404
    assert graph.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": _in(60)}).status_code == 404
    graph.patch(f"{list_path}/items/1/fields", json={"City": "Nowhere"})
    assert sp_admin("GET", "/deliveries").json()["queued"] == 0


def test_a_subscription_expires_by_itself_at_its_expiration_time(
    subscribe: Callable[..., httpx.Response], receiver_url: str, graph: httpx.Client
) -> None:
    subscribe(f"{receiver_url}/hooks/graph", expirationDateTime=_in(1 / 60))
    deadline = time.monotonic() + 10
    while graph.get("/subscriptions").json()["value"]:
        assert time.monotonic() < deadline, "the subscription did not expire"
        time.sleep(0.1)


def test_a_failed_notification_is_sent_again(
    subscribe: Callable[..., httpx.Response], serve: Serve, graph: httpx.Client, list_path: str,
    sp_admin: AdminCall,
) -> None:
    flaky = Receiver(statuses=[500], default_status=202)
    subscribe(f"{serve(flaky.app).url}/hooks/graph")
    sp_admin("PATCH", "/deliveries", {"backoff_s": 0.05})
    graph.patch(f"{list_path}/items/1/fields", json={"City": "Retryville"})
    first, second = flaky.wait_for(2)
    assert first.body == second.body
    stats = sp_admin("GET", "/deliveries").json()
    assert (stats["delivered"], stats["retried"], stats["dropped"]) == (1, 1, 0)


def test_no_2xx_within_the_deadline_counts_as_failed(
    subscribe: Callable[..., httpx.Response], serve: Serve, graph: httpx.Client, list_path: str,
    sp_admin: AdminCall,
) -> None:
    slow = Receiver(delays_s=[1.0], default_status=202)
    subscribe(f"{serve(slow.app).url}/hooks/graph")
    sp_admin("PATCH", "/deliveries", {"backoff_s": 0.05, "timeout_s": 0.2})
    graph.patch(f"{list_path}/items/1/fields", json={"City": "Slowtown"})
    slow.wait_for(2)
    stats = sp_admin("GET", "/deliveries").json()
    assert stats["retried"] >= 1
