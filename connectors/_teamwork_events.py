"""Teamwork change events: company webhooks (source-apis.md 2.5) and the updatedAt scan that stands in for a feed."""

from __future__ import annotations

from collections.abc import Mapping
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
from connectors._record import SourceRecord, SystemName
from connectors._values import parse_datetime, text

__all__ = ["COMPANY_EVENTS", "TeamworkWebhooks", "company_dedup_key", "company_event", "sign"]

TEAMWORK = SystemName.TEAMWORK
SIGNATURE_HEADER = "x-projects-signature"
EVENT_HEADER = "x-projects-event"

#: The site-level events c360 registers for.
COMPANY_EVENTS: dict[str, ChangeKind] = {
    "COMPANY.CREATED": ChangeKind.CREATED,
    "COMPANY.UPDATED": ChangeKind.UPDATED,
    "COMPANY.DELETED": ChangeKind.DELETED,
}


def sign(token: str, body: bytes) -> str:
    """The `X-Projects-Signature` of `body`: lower-case hex HMAC-SHA256 keyed with the registration's token."""
    return hmac_sha256(token, body).hex()


def company_dedup_key(company_id: str, kind: ChangeKind, updated_at: datetime | str | None) -> str:
    """Teamwork sends no delivery id: (event, company id, updatedAt) names one change. Created and updated
    share a class so a scan that sees the same updatedAt after the webhook does not handle it again."""
    what = "delete" if kind is ChangeKind.DELETED else "change"
    when = utc_text(updated_at) if isinstance(updated_at, datetime) else utc_text(parse_datetime(updated_at))
    return f"teamwork:company:{company_id}:{what}:{when}"


def company_event(record: SourceRecord) -> ChangeEvent:
    """A scanned company as a change (a company marked deleted is a deletion)."""
    deleted = str(record.raw.get("status", "")).lower() == "deleted"
    kind = ChangeKind.DELETED if deleted else ChangeKind.UPDATED
    return ChangeEvent(
        TEAMWORK, record.id, kind, company_dedup_key(record.id, kind, record.updated_at), record.updated_at,
        version=record.version, record=None if deleted else record,
    )


class TeamworkWebhooks:
    """Verifies `X-Projects-Signature` and reads COMPANY.* deliveries (others are ignored)."""

    system = TEAMWORK
    accepted_status = 200  # Teamwork counts anything but 200 (3xx too) as a failed delivery

    def __init__(self, token: SecretStr | str) -> None:
        self._token = token.get_secret_value() if isinstance(token, SecretStr) else token

    def handshake(self, query: Mapping[str, str]) -> str | None:
        return None

    def receive(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        if not self._token:
            raise WebhookRejected(TEAMWORK, "no webhook token configured")
        signature = (headers.get(SIGNATURE_HEADER) or "").strip().lower()
        if not constant_time_equal(signature, sign(self._token, body)):
            raise WebhookRejected(TEAMWORK, "bad or missing X-Projects-Signature")
        try:
            payload: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise WebhookMalformed(TEAMWORK, "body is not JSON") from None
        if not isinstance(payload, Mapping):
            raise WebhookMalformed(TEAMWORK, "body is not a JSON object")
        company = payload.get("company")
        # The event header is what public receivers key on (verify); the payload's object key backs it up.
        event = (headers.get(EVENT_HEADER) or ("COMPANY.UPDATED" if company is not None else "")).strip().upper()
        kind = COMPANY_EVENTS.get(event)
        company_id = text(company.get("id")) if isinstance(company, Mapping) else None
        if kind is None or company_id is None or not isinstance(company, Mapping):
            return WebhookDelivery(ignored=1)
        updated = text(company.get("updatedAt"))
        changed = parse_datetime(updated)
        return WebhookDelivery(events=(ChangeEvent(
            TEAMWORK, company_id, kind, company_dedup_key(company_id, kind, changed), changed, version=updated,
        ),))
