"""Microsoft Graph change notifications and list-item delta entries (source-apis.md 1.6, 1.7)."""

from __future__ import annotations

from collections.abc import Mapping
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
)
from connectors._record import SourceRecord, SystemName
from connectors._values import text

__all__ = ["GraphNotifications", "delta_event", "item_dedup_key"]

SHAREPOINT = SystemName.SHAREPOINT


def item_dedup_key(list_id: str, item_id: str, marker: str) -> str:
    """One change of one item: its version token (the eTag counts every write), or "deleted"."""
    return f"sharepoint:{list_id}:{item_id}:{marker}"


def delta_event(list_id: str, item: Mapping[str, Any], record: SourceRecord | None) -> ChangeEvent | None:
    """One delta entry: a deletion (`deleted` facet, no fields) or the item's current state."""
    item_id = text(item.get("id"))
    if item_id is None:
        return None
    if item.get("deleted") is not None:
        return ChangeEvent(SHAREPOINT, item_id, ChangeKind.DELETED, item_dedup_key(list_id, item_id, "deleted"))
    version = record.version if record is not None else text(item.get("eTag")) or text(item.get("@odata.etag"))
    marker = version or text(item.get("lastModifiedDateTime")) or "-"
    return ChangeEvent(
        SHAREPOINT, item_id, ChangeKind.UPDATED, item_dedup_key(list_id, item_id, marker),
        record.updated_at if record is not None else None, version=version, record=record,
    )


class GraphNotifications:
    """The validation handshake and the `clientState` check of Graph list subscriptions.

    A list notification names no item (creates and deletes come as "updated" too), so an
    accepted delivery only asks for a delta pull.
    """

    system = SHAREPOINT
    accepted_status = 202  # "persist, return 202, process later" within 3 s

    def __init__(self, client_state: SecretStr | str) -> None:
        self._client_state = client_state.get_secret_value() if isinstance(client_state, SecretStr) else client_state

    def handshake(self, query: Mapping[str, str]) -> str | None:
        """The token to echo (already URL-decoded by the caller's query parser)."""
        return query.get("validationToken")

    def receive(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        if not self._client_state:
            raise WebhookRejected(SHAREPOINT, "no clientState configured")
        try:
            payload: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            # Unreadable, so nothing in it can be authenticated either.
            raise WebhookRejected(SHAREPOINT, "body is not JSON") from None
        notifications = payload.get("value") if isinstance(payload, Mapping) else None
        if not isinstance(notifications, list) or not notifications:
            raise WebhookRejected(SHAREPOINT, "no notifications in the body")
        for notification in notifications:
            state = notification.get("clientState") if isinstance(notification, Mapping) else None
            if not constant_time_equal(state if isinstance(state, str) else None, self._client_state):
                # One forged notification taints the delivery: none of it is acted on.
                raise WebhookRejected(SHAREPOINT, "clientState does not match")
        if not all(isinstance(n.get("subscriptionId"), str) for n in notifications):
            raise WebhookMalformed(SHAREPOINT, "a notification has no subscriptionId")
        return WebhookDelivery(pull=True)
