"""Change events: what a webhook delivery or a change feed says happened to a system's records.

Every system's notifications and feeds are mapped here to one canonical shape,
`ChangeEvent`, so the rest of c360 handles a QuickBooks CDC entry, a Teamwork
webhook and a Graph delta item the same way. Nothing here holds customer data
beyond the record a feed hands over (already canonical, and never stored).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from connectors._errors import ConnectorError
from connectors._record import SourceRecord, SystemName

__all__ = [
    "ChangeBatch",
    "ChangeEvent",
    "ChangeKind",
    "FeedExpired",
    "Subscription",
    "WebhookDelivery",
    "WebhookMalformed",
    "WebhookReceiver",
    "WebhookRejected",
    "constant_time_equal",
    "hmac_sha256",
    "utc_text",
]


class ChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One record changed in its system.

    `dedup_key` is the same for every delivery of this one change (a webhook retried, the
    same change seen again by polling, where the system gives enough to tell), so handling
    it twice can be avoided. `record` is the record as the feed returned it, when it did
    (delta, CDC, scan); webhooks never carry it and the record is read afterwards.
    """

    system: SystemName
    record_id: str
    kind: ChangeKind
    dedup_key: str
    changed_at: datetime | None = None
    #: The record's version token at that change, when the source says it (Teamwork updatedAt).
    version: str | None = None
    record: SourceRecord | None = None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """A verified delivery: its events, or `pull` when it only says "something changed" (Graph lists)."""

    events: tuple[ChangeEvent, ...] = ()
    pull: bool = False
    #: Notifications in it that were not about customer records of this tenant (ignored).
    ignored: int = 0


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """What one pull of a change feed returned, and the checkpoint to resume from next time."""

    events: tuple[ChangeEvent, ...]
    #: Opaque to the caller: a deltaLink, a CDC time, a scan time. Store it, hand it back.
    checkpoint: str
    #: The old checkpoint had expired and the feed enumerated everything again (Graph 410).
    resync: bool = False


@dataclass(frozen=True, slots=True)
class Subscription:
    """A change-notification subscription held at a system (Graph)."""

    id: str
    expires_at: datetime


class WebhookRejected(Exception):
    """A delivery that fails verification (signature, clientState): answered 401, never acted on."""

    def __init__(self, system: SystemName, reason: str) -> None:
        super().__init__(f"{system.value} webhook rejected: {reason}")
        self.system = system
        self.reason = reason


class WebhookMalformed(WebhookRejected):
    """Authentic (or unauthenticated handshake) but unreadable: answered 400."""


class FeedExpired(ConnectorError):
    """The stored checkpoint is no longer accepted (Graph 410 Gone): the feed must start over."""

    def __init__(self, system: SystemName, message: str, *, location: str | None = None) -> None:
        super().__init__(system, message, status=410)
        self.location = location


@runtime_checkable
class WebhookReceiver(Protocol):
    """Verifies and reads one system's webhook deliveries (no I/O: the gateway queues the result)."""

    system: SystemName
    #: HTTP status that tells the system the delivery was taken (Graph: 202; Teamwork, Intuit: 200).
    accepted_status: int

    def handshake(self, query: Mapping[str, str]) -> str | None:
        """The text to echo when the request is a subscription validation (Graph), else None."""
        ...

    def receive(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        """Verify first (raise WebhookRejected), then parse (WebhookMalformed when unreadable)."""
        ...


def hmac_sha256(key: str, body: bytes) -> bytes:
    return hmac.new(key.encode(), body, hashlib.sha256).digest()


def constant_time_equal(given: str | None, expected: str) -> bool:
    """Compare a presented secret or signature without leaking where it differs."""
    if given is None or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def utc_text(value: datetime | None) -> str:
    """A timestamp as UTC text to second precision, so the same instant written with different offsets
    (Intuit webhooks in UTC, CDC in the company's offset) gives the same dedup key."""
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
