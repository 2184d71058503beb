"""QuickBooks webhooks (source-apis.md 3.6): the portal settings, signed and aggregated deliveries, retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox._server import ThreadedServer
from sandbox._store import Store
from tests.quickbooks.conftest import Qbo
from tests.support.receiver import Receiver


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def hook_url(receiver: Receiver, serve: Callable[..., ThreadedServer]) -> str:
    return f"{serve(receiver.app).url}/webhooks/quickbooks"


def _portal(qbo: Qbo, url: str, **settings: Any) -> dict[str, Any]:
    return qbo.admin("PUT", "/webhooks", {"url": url, "delay_ms": 50, **settings}).json()


def _verifies(qbo: Qbo, signature: str, body: bytes) -> bool:
    expected = hmac.new(qbo.credentials.quickbooks_webhook_verifier.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64decode(signature), expected)


def _entities(body: dict[str, Any]) -> list[dict[str, Any]]:
    [notification] = body["eventNotifications"]
    return notification["dataChangeEvent"]["entities"]


def _wait_for_entities(receiver: Receiver, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The entities of every legacy notification so far, once there are `count` (batches may split)."""
    deadline = time.monotonic() + timeout
    while True:
        entities = [e for hit in receiver.notifications() for e in _entities(hit.json())]
        if len(entities) >= count:
            return entities
        assert time.monotonic() < deadline, f"expected {count} entities, got {len(entities)}"
        time.sleep(0.01)


def test_the_portal_settings_can_be_shown_changed_and_cleared(qbo: Qbo, hook_url: str) -> None:
    assert qbo.admin("GET", "/webhooks").json()["url"] is None
    shown = _portal(qbo, hook_url, format="cloudevents")
    assert shown == {"url": hook_url, "format": "cloudevents", "delay_ms": 50, "entities": ["Customer", "Invoice"]}
    assert qbo.admin("GET", "/webhooks").json() == shown
    assert qbo.http.put("/_admin/webhooks", json={"url": "not a url"}).status_code == 400
    assert qbo.admin("DELETE", "/webhooks").json()["url"] is None


def test_an_update_delivers_a_signed_legacy_notification(qbo: Qbo, receiver: Receiver, hook_url: str) -> None:
    customer = qbo.create_customer(DisplayName="Bill's Windsurf Shop")
    _portal(qbo, hook_url)
    resp = qbo.call("POST", "/customer", json={"Id": customer["Id"], "SyncToken": "0", "sparse": True,
                                               "BillAddr": {"Line1": "1 New Rd", "City": "Pacifica"}})
    assert resp.status_code == 200

    [hit] = receiver.wait_for(1)
    assert _verifies(qbo, hit.headers["intuit-signature"], hit.body)
    body = hit.json()
    assert body["eventNotifications"][0]["realmId"] == qbo.credentials.quickbooks_realm_id
    [entity] = _entities(body)
    assert (entity["name"], entity["id"], entity["operation"]) == ("Customer", customer["Id"], "Update")
    assert entity["lastUpdated"].endswith(".000Z")
    assert "Pacifica" not in hit.body.decode()  # names the entity only


def test_quick_changes_are_batched_into_one_post(qbo: Qbo, receiver: Receiver, hook_url: str) -> None:
    _portal(qbo, hook_url, delay_ms=500)
    created = [qbo.create_customer(DisplayName=f"Quick {n}") for n in range(3)]
    invoice = qbo.create_invoice(created[0]["Id"], 25.0)
    [hit] = receiver.wait_for(1)
    assert [(e["name"], e["id"], e["operation"]) for e in _entities(hit.json())] == [
        *(("Customer", c["Id"], "Create") for c in created), ("Invoice", invoice["Id"], "Create")]
    assert _verifies(qbo, hit.headers["intuit-signature"], hit.body)


def test_cloudevents_format(qbo: Qbo, receiver: Receiver, hook_url: str) -> None:
    _portal(qbo, hook_url, format="cloudevents")
    created = qbo.create_customer(DisplayName="Cloudy")
    [hit] = receiver.wait_for(1)
    assert _verifies(qbo, hit.headers["intuit-signature"], hit.body)
    [event] = hit.json()
    assert event["specversion"] == "1.0"
    assert event["type"] == "qbo.customer.created.v1"
    assert (event["intuitentityid"], event["intuitaccountid"]) == (created["Id"], qbo.credentials.quickbooks_realm_id)
    assert event["id"].endswith(f"-Customer-{created['Id']}")
    assert event["time"].endswith("Z") and event["data"] == {}


def test_inactivation_and_invoice_deletion_operations(qbo: Qbo, receiver: Receiver, hook_url: str) -> None:
    customer = qbo.create_customer(DisplayName="Leaving")
    invoice = qbo.create_invoice(customer["Id"], 10.0)
    _portal(qbo, hook_url)
    qbo.call("POST", "/invoice", params={"operation": "delete"},
             json={"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]})
    qbo.call("POST", "/customer", json={"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    entities = _wait_for_entities(receiver, 2)
    assert [(e["name"], e["operation"]) for e in entities] == [("Invoice", "Delete"), ("Customer", "Delete")]


def test_only_the_portals_entities_are_sent(qbo: Qbo, receiver: Receiver, hook_url: str) -> None:
    customer = qbo.create_customer(DisplayName="Billed")
    _portal(qbo, hook_url, entities=["Invoice"])
    qbo.call("POST", "/customer", json={"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "x"})
    invoice = qbo.create_invoice(customer["Id"], 5.0)
    [hit] = receiver.wait_for(1)
    assert [(e["name"], e["id"]) for e in _entities(hit.json())] == [("Invoice", invoice["Id"])]


def test_no_endpoint_no_delivery(qbo: Qbo, hook_url: str) -> None:
    _portal(qbo, hook_url)
    qbo.admin("DELETE", "/webhooks")
    qbo.create_customer(DisplayName="Unheard")
    assert qbo.admin("GET", "/deliveries").json()["queued"] == 0


def test_a_failed_delivery_is_retried_with_the_same_signed_body(qbo: Qbo, serve: Callable[..., ThreadedServer]) -> None:
    flaky = Receiver(statuses=[500])
    _portal(qbo, f"{serve(flaky.app).url}/hook")
    qbo.admin("PATCH", "/deliveries", {"backoff_s": 0.05})
    qbo.create_customer(DisplayName="Persistent")
    first, second = flaky.wait_for(2)
    assert first.body == second.body
    assert first.headers["intuit-signature"] == second.headers["intuit-signature"]
    stats = qbo.admin("GET", "/deliveries").json()
    assert stats["retried"] == 1
    assert stats["recent"][-1]["outcome"] == "delivered" and stats["recent"][-1]["attempts"] == 2


def test_gives_up_after_the_last_attempt(qbo: Qbo, serve: Callable[..., ThreadedServer]) -> None:
    down = Receiver(default_status=503)
    _portal(qbo, f"{serve(down.app).url}/hook")
    qbo.admin("PATCH", "/deliveries", {"backoff_s": 0.01, "attempts": 3})
    qbo.create_customer(DisplayName="Unlucky")
    down.wait_for(3)
    deadline = time.monotonic() + 5
    while not (recent := qbo.admin("GET", "/deliveries").json()["recent"]):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert recent[-1]["outcome"] == "dropped" and recent[-1]["status"] == 503
    assert recent[-1]["attempts"] == 3


def test_the_portal_settings_survive_a_restart(tmp_path: Path, start_qbo: Callable[..., Qbo], hook_url: str) -> None:
    path = tmp_path / "quickbooks.sqlite3"
    first = start_qbo(Store(path))
    _portal(first, hook_url, format="cloudevents")
    assert start_qbo(Store(path)).admin("GET", "/webhooks").json()["format"] == "cloudevents"
