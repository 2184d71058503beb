"""QuickBooks Online change events: webhooks (legacy and CloudEvents) and CDC entries (source-apis.md 3.5, 3.6)."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import orjson
from pydantic import SecretStr

from connectors._changes import (
    ChangeEvent,
    ChangeKind,
    WebhookDelivery,
    WebhookMalformed,
    WebhookRejected,
    constant_time_equal,
    hmac_sha256,
    utc_text,
)
from connectors._quickbooks_mapping import customer_to_record
from connectors._record import SourceRecord, SystemName
from connectors._values import parse_datetime, text

__all__ = ["QuickBooksWebhooks", "cdc_events", "customer_dedup_key", "sign"]

QBO = SystemName.QUICKBOOKS
SIGNATURE_HEADER = "intuit-signature"

#: Legacy `operation` → what happened to the record named by `id`.
_OPERATIONS = {
    "create": ChangeKind.CREATED,
    "update": ChangeKind.UPDATED,
    "merge": ChangeKind.UPDATED,  # the surviving customer; the losing one comes as `deletedId`
    "delete": ChangeKind.DELETED,
    "void": ChangeKind.UPDATED,
}
#: CloudEvents `type` verb → the same.
_VERBS = {
    "created": ChangeKind.CREATED,
    "updated": ChangeKind.UPDATED,
    "merged": ChangeKind.UPDATED,
    "deleted": ChangeKind.DELETED,
    "voided": ChangeKind.UPDATED,
}


def sign(verifier: str, body: bytes) -> str:
    """The `intuit-signature` of `body`: base64 HMAC-SHA256 keyed with the app's verifier token."""
    return base64.b64encode(hmac_sha256(verifier, body)).decode()


def customer_dedup_key(realm_id: str, record_id: str, kind: ChangeKind, when: datetime | None) -> str:
    """The same for one change whether a webhook or CDC reports it (created and updated are one class:
    CDC cannot tell them apart), so a change polled after its webhook is not handled twice."""
    what = "delete" if kind is ChangeKind.DELETED else "change"
    return f"quickbooks:{realm_id}:customer:{record_id}:{what}:{utc_text(when)}"


def _event(realm_id: str, record_id: Any, kind: ChangeKind, when: Any) -> ChangeEvent | None:
    rid = text(record_id)
    if rid is None:
        return None
    changed = parse_datetime(when)
    return ChangeEvent(QBO, rid, kind, customer_dedup_key(realm_id, rid, kind, changed), changed)


class QuickBooksWebhooks:
    """Verifies `intuit-signature` and reads Customer notifications of one company (realm).

    Notifications for other realms or other entities are counted as ignored, not refused:
    one app endpoint may serve several companies.
    """

    system = QBO
    accepted_status = 200

    def __init__(self, verifier: SecretStr | str, realm_id: str) -> None:
        self._verifier = verifier.get_secret_value() if isinstance(verifier, SecretStr) else verifier
        self.realm_id = realm_id

    def handshake(self, query: Mapping[str, str]) -> str | None:
        return None

    def receive(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        if not self._verifier:
            raise WebhookRejected(QBO, "no verifier token configured")
        if not constant_time_equal(headers.get(SIGNATURE_HEADER), sign(self._verifier, body)):
            raise WebhookRejected(QBO, "bad or missing intuit-signature")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise WebhookMalformed(QBO, "body is not JSON") from None
        if isinstance(payload, list):
            events, ignored = self._cloudevents(payload)
        elif isinstance(payload, Mapping) and isinstance(payload.get("eventNotifications"), list):
            events, ignored = self._legacy(payload["eventNotifications"])
        else:
            raise WebhookMalformed(QBO, "neither eventNotifications nor a CloudEvents array")
        return WebhookDelivery(events=tuple(events), ignored=ignored)

    def _legacy(self, notifications: list[Any]) -> tuple[list[ChangeEvent], int]:
        events: list[ChangeEvent] = []
        ignored = 0
        for notification in notifications:
            if not isinstance(notification, Mapping):
                ignored += 1
                continue
            change = notification.get("dataChangeEvent")
            entities = change.get("entities") if isinstance(change, Mapping) else None
            for entity in entities if isinstance(entities, list) else []:
                if (
                    not isinstance(entity, Mapping)
                    or str(notification.get("realmId")) != self.realm_id
                    or str(entity.get("name", "")).lower() != "customer"
                ):
                    ignored += 1
                    continue
                operation = str(entity.get("operation", "")).lower()
                kind = _OPERATIONS.get(operation)
                if kind is None:  # "Emailed" and the like: nothing about the customer record changed
                    ignored += 1
                    continue
                when = entity.get("lastUpdated")
                merged_away = entity.get("deletedId") if operation == "merge" else None
                events += list(self._with_merge(entity.get("id"), kind, when, merged_away))
        return events, ignored

    def _cloudevents(self, items: list[Any]) -> tuple[list[ChangeEvent], int]:
        events: list[ChangeEvent] = []
        ignored = 0
        for item in items:
            parts = str(item.get("type", "")).split(".") if isinstance(item, Mapping) else []
            # qbo.<entity>.<verb>.v1
            if (
                not isinstance(item, Mapping) or len(parts) < 3 or parts[0] != "qbo" or parts[1] != "customer"
                or str(item.get("intuitaccountid")) != self.realm_id or parts[2] not in _VERBS
            ):
                ignored += 1
                continue
            data = item.get("data")
            deleted = data.get("deletedid") or data.get("deletedId") if isinstance(data, Mapping) else None
            events += list(self._with_merge(item.get("intuitentityid"), _VERBS[parts[2]], item.get("time"),
                                            deleted if parts[2] == "merged" else None))
        return events, ignored

    def _with_merge(self, record_id: Any, kind: ChangeKind, when: Any, deleted_id: Any) -> Iterator[ChangeEvent]:
        event = _event(self.realm_id, record_id, kind, when)
        if event is not None:
            yield event
        if deleted_id is not None:
            loser = _event(self.realm_id, deleted_id, ChangeKind.DELETED, when)
            if loser is not None:
                yield loser


def cdc_events(realm_id: str, body: Mapping[str, Any], record_url: Any) -> Iterator[ChangeEvent]:
    """Customer entries of one CDC response: full records, or `status: Deleted` stubs."""
    for response in body.get("CDCResponse") or []:
        for query in (response.get("QueryResponse") or []) if isinstance(response, Mapping) else []:
            customers = query.get("Customer") if isinstance(query, Mapping) else None
            for raw in customers if isinstance(customers, list) else []:
                if not isinstance(raw, Mapping) or text(raw.get("Id")) is None:
                    continue
                record_id = str(raw["Id"])
                meta = raw.get("MetaData") if isinstance(raw.get("MetaData"), Mapping) else {}
                when = parse_datetime(meta.get("LastUpdatedTime")) if isinstance(meta, Mapping) else None
                if str(raw.get("status", "")).lower() == "deleted":
                    yield ChangeEvent(QBO, record_id, ChangeKind.DELETED,
                                      customer_dedup_key(realm_id, record_id, ChangeKind.DELETED, when), when)
                    continue
                record: SourceRecord = customer_to_record(raw, record_url(record_id))
                yield ChangeEvent(QBO, record_id, ChangeKind.UPDATED,
                                  customer_dedup_key(realm_id, record_id, ChangeKind.UPDATED, when), when,
                                  version=record.version, record=record)
