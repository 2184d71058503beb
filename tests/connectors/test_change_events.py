"""Webhook verification and parsing, per system, on hand-built payloads signed as source-apis.md says."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors import ChangeKind, SystemName, WebhookMalformed, WebhookRejected
from connectors._quickbooks_events import QuickBooksWebhooks, cdc_events
from connectors._sharepoint_events import GraphNotifications, delta_event
from connectors._teamwork_events import TeamworkWebhooks, company_event
from connectors._teamwork_mapping import to_record

VERIFIER = "qbo-verifier-token"
REALM = "9130347596476986"
TW_TOKEN = "tw-webhook-token"
CLIENT_STATE = "graph-client-state"


def body_of(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def intuit_signature(body: bytes, key: str = VERIFIER) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def projects_signature(body: bytes, key: str = TW_TOKEN) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


LEGACY = {"eventNotifications": [{"realmId": REALM, "dataChangeEvent": {"entities": [
    {"name": "Customer", "id": "58", "operation": "Update", "lastUpdated": "2024-05-20T09:31:44.000Z"},
    {"name": "Customer", "id": "57", "operation": "Merge", "lastUpdated": "2024-05-20T09:32:00.000Z",
     "deletedId": "61"},
    {"name": "Invoice", "id": "130", "operation": "Create", "lastUpdated": "2024-05-20T09:33:00.000Z"},
]}}]}

CLOUDEVENTS = [
    {"specversion": "1.0", "id": "e1-Customer-58", "source": "intuit.qbo", "type": "qbo.customer.updated.v1",
     "datacontenttype": "application/json", "time": "2025-12-04T15:25:05Z", "intuitentityid": "58",
     "intuitaccountid": REALM, "data": {}},
    {"specversion": "1.0", "id": "e2-Customer-57", "source": "intuit.qbo", "type": "qbo.customer.merged.v1",
     "time": "2025-12-04T15:26:00Z", "intuitentityid": "57", "intuitaccountid": REALM, "data": {"deletedid": "61"}},
    {"specversion": "1.0", "id": "e3-Customer-59", "type": "qbo.customer.created.v1", "time": "2025-12-04T15:27:00Z",
     "intuitentityid": "59", "intuitaccountid": "another-realm", "data": {}},
]


# --- QuickBooks ---------------------------------------------------------------------------------


def test_quickbooks_legacy_delivery_gives_customer_events_and_the_merged_away_id() -> None:
    body = body_of(LEGACY)
    delivery = QuickBooksWebhooks(VERIFIER, REALM).receive({"intuit-signature": intuit_signature(body)}, body)

    assert [(e.record_id, e.kind) for e in delivery.events] == [
        ("58", ChangeKind.UPDATED), ("57", ChangeKind.UPDATED), ("61", ChangeKind.DELETED),
    ]
    assert delivery.events[0].changed_at == datetime(2024, 5, 20, 9, 31, 44, tzinfo=UTC)
    assert delivery.ignored == 1  # the invoice
    assert not delivery.pull


def test_quickbooks_cloudevents_delivery_reads_the_same_way_and_skips_other_realms() -> None:
    body = body_of(CLOUDEVENTS)
    delivery = QuickBooksWebhooks(VERIFIER, REALM).receive({"intuit-signature": intuit_signature(body)}, body)

    assert [(e.record_id, e.kind) for e in delivery.events] == [
        ("58", ChangeKind.UPDATED), ("57", ChangeKind.UPDATED), ("61", ChangeKind.DELETED),
    ]
    assert delivery.ignored == 1


@pytest.mark.parametrize("signature", [None, "", intuit_signature(b"other body"), intuit_signature(b"x", "wrong key")])
def test_quickbooks_delivery_with_a_bad_signature_is_rejected(signature: str | None) -> None:
    body = body_of(LEGACY)
    headers = {} if signature is None else {"intuit-signature": signature}

    with pytest.raises(WebhookRejected):
        QuickBooksWebhooks(VERIFIER, REALM).receive(headers, body)


def test_quickbooks_without_a_verifier_rejects_everything() -> None:
    body = body_of(LEGACY)
    with pytest.raises(WebhookRejected):
        QuickBooksWebhooks("", REALM).receive({"intuit-signature": intuit_signature(body, "")}, body)


def test_quickbooks_signed_garbage_is_malformed_not_accepted() -> None:
    body = b"not json"
    with pytest.raises(WebhookMalformed):
        QuickBooksWebhooks(VERIFIER, REALM).receive({"intuit-signature": intuit_signature(body)}, body)


def test_quickbooks_repeated_delivery_has_the_same_dedup_keys_and_cdc_agrees() -> None:
    body = body_of(LEGACY)
    receiver = QuickBooksWebhooks(VERIFIER, REALM)
    first = receiver.receive({"intuit-signature": intuit_signature(body)}, body)
    again = receiver.receive({"intuit-signature": intuit_signature(body)}, body)
    cdc = {"CDCResponse": [{"QueryResponse": [{"Customer": [
        {"Id": "58", "SyncToken": "4", "DisplayName": "Bill's", "MetaData": {"LastUpdatedTime": "2024-05-20T02:31:44-07:00"}},
        {"domain": "QBO", "status": "Deleted", "Id": "61", "MetaData": {"LastUpdatedTime": "2024-05-20T02:32:00-07:00"}},
    ]}]}], "time": "2024-05-20T02:40:00-07:00"}

    polled = list(cdc_events(REALM, cdc, lambda rid: f"https://qbo/{rid}"))

    assert [e.dedup_key for e in first.events] == [e.dedup_key for e in again.events]
    assert polled[0].dedup_key == first.events[0].dedup_key  # the same change, by webhook and by CDC
    assert polled[0].record is not None and polled[0].version == "4"
    assert (polled[1].kind, polled[1].dedup_key) == (ChangeKind.DELETED, first.events[2].dedup_key)


# --- Teamwork -------------------------------------------------------------------------------------


def company_delivery(event: str = "COMPANY.UPDATED", updated: str = "2024-05-20T09:40:12Z") -> bytes:
    return body_of({"eventCreator": {"id": 1, "firstName": "Ann", "lastName": "Lee", "avatar": ""},
                    "company": {"id": 195285, "name": "Bill's Windsurf Shop", "updatedAt": updated}})


@pytest.mark.parametrize(("event", "kind"), [
    ("COMPANY.CREATED", ChangeKind.CREATED), ("COMPANY.UPDATED", ChangeKind.UPDATED),
    ("COMPANY.DELETED", ChangeKind.DELETED),
])
def test_teamwork_company_delivery_is_verified_and_read(event: str, kind: ChangeKind) -> None:
    body = company_delivery(event)
    delivery = TeamworkWebhooks(TW_TOKEN).receive(
        {"x-projects-signature": projects_signature(body), "x-projects-event": event}, body)

    (change,) = delivery.events
    assert (change.system, change.record_id, change.kind) == (SystemName.TEAMWORK, "195285", kind)
    assert change.version == "2024-05-20T09:40:12Z"
    assert change.record is None  # webhooks carry no record the gateway trusts: it re-reads


def test_teamwork_signature_is_compared_without_case_and_a_wrong_one_is_rejected() -> None:
    body = company_delivery()
    receiver = TeamworkWebhooks(TW_TOKEN)
    receiver.receive({"x-projects-signature": projects_signature(body).upper(), "x-projects-event": "COMPANY.UPDATED"}, body)

    for bad in ("", projects_signature(body, "other-token"), projects_signature(body + b" ")):
        with pytest.raises(WebhookRejected):
            receiver.receive({"x-projects-signature": bad, "x-projects-event": "COMPANY.UPDATED"}, body)


def test_teamwork_dedup_key_is_event_class_id_and_updated_at() -> None:
    receiver = TeamworkWebhooks(TW_TOKEN)

    def key(event: str, updated: str) -> str:
        body = company_delivery(event, updated)
        headers = {"x-projects-signature": projects_signature(body), "x-projects-event": event}
        return receiver.receive(headers, body).events[0].dedup_key

    assert key("COMPANY.UPDATED", "2024-05-20T09:40:12Z") == key("COMPANY.UPDATED", "2024-05-20T09:40:12Z")
    assert key("COMPANY.UPDATED", "2024-05-20T09:40:12Z") != key("COMPANY.UPDATED", "2024-05-20T09:40:13Z")
    assert key("COMPANY.DELETED", "2024-05-20T09:40:12Z") != key("COMPANY.UPDATED", "2024-05-20T09:40:12Z")
    # A scan that sees the same company at the same updatedAt names the same change.
    scanned = company_event(to_record({"id": 195285, "name": "x", "updatedAt": "2024-05-20T09:40:12Z"}, "u"))
    assert scanned.dedup_key == key("COMPANY.CREATED", "2024-05-20T09:40:12Z")


def test_teamwork_project_events_are_ignored() -> None:
    body = body_of({"eventCreator": {}, "project": {"id": 1, "name": "P"}})
    delivery = TeamworkWebhooks(TW_TOKEN).receive(
        {"x-projects-signature": projects_signature(body), "x-projects-event": "PROJECT.CREATED"}, body)
    assert delivery.events == () and delivery.ignored == 1


# --- Microsoft Graph --------------------------------------------------------------------------------


def graph_notification(state: str | None = CLIENT_STATE) -> dict[str, Any]:
    notification = {"subscriptionId": "7f105c7d-2dc5-4530-97cd-4e7ae6534c07",
                    "subscriptionExpirationDateTime": "2024-06-18T11:00:00+00:00", "changeType": "updated",
                    "resource": "sites/s/lists/l", "tenantId": "t", "resourceData": {}}
    if state is not None:
        notification["clientState"] = state
    return notification


def test_graph_validation_token_is_echoed() -> None:
    receiver = GraphNotifications(CLIENT_STATE)
    assert receiver.handshake({"validationToken": "Validation: Testing client application reachability"}) == (
        "Validation: Testing client application reachability")
    assert receiver.handshake({}) is None


def test_graph_notification_with_our_client_state_asks_for_a_delta_pull() -> None:
    body = body_of({"value": [graph_notification(), graph_notification()]})
    delivery = GraphNotifications(CLIENT_STATE).receive({}, body)
    assert delivery.pull and delivery.events == ()


@pytest.mark.parametrize("state", ["someone-else", "", None])
def test_graph_notification_with_another_client_state_is_rejected(state: str | None) -> None:
    body = body_of({"value": [graph_notification(), graph_notification(state)]})
    with pytest.raises(WebhookRejected):
        GraphNotifications(CLIENT_STATE).receive({}, body)


def test_graph_delta_entries_become_events() -> None:
    deleted = delta_event("Customers", {"id": "3", "deleted": {"state": "deleted"}}, None)
    changed = delta_event("Customers", {"id": "17", "eTag": '"{ABC},4"'}, None)

    assert deleted is not None and deleted.kind is ChangeKind.DELETED
    assert changed is not None and (changed.kind, changed.version) == (ChangeKind.UPDATED, '"{ABC},4"')
    assert changed.dedup_key != delta_event("Customers", {"id": "17", "eTag": '"{ABC},5"'}, None).dedup_key  # type: ignore[union-attr]
