"""Canonical, system-neutral shapes that every connector maps to and from.

These are the only customer shapes the rest of c360 sees; a system's field names
never leave its connector module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
import datetime as dt
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class SystemName(StrEnum):
    SHAREPOINT = "sharepoint"
    TEAMWORK = "teamwork"
    QUICKBOOKS = "quickbooks"


class CustomerStatus(StrEnum):
    LEAD = "lead"
    ACTIVE = "active"
    INACTIVE = "inactive"


@dataclass(frozen=True, slots=True)
class Address:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True, slots=True)
class PersonName:
    given: str | None = None
    family: str | None = None

    @property
    def full(self) -> str | None:
        joined = " ".join(p for p in (self.given, self.family) if p)
        return joined or None


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One customer record as held by one system.

    `version` is the system's opaque concurrency token (Graph eTag, QuickBooks
    SyncToken, Teamwork updatedAt); echo it back on update, never interpret it.
    """

    system: SystemName
    id: str
    version: str | None = None
    updated_at: datetime | None = None
    name: str | None = None
    person_name: PersonName | None = None
    email: str | None = None
    phone: str | None = None
    address: Address | None = None
    status: CustomerStatus | None = None
    website: str | None = None
    url: str | None = None
    #: Open balance owed, where the system keeps accounts (accounting systems).
    balance: Decimal | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> tuple[SystemName, str]:
        return (self.system, self.id)


@dataclass(frozen=True, slots=True)
class RecordChanges:
    """Attributes to set on create or update; `None` means "leave as is"."""

    name: str | None = None
    person_name: PersonName | None = None
    email: str | None = None
    phone: str | None = None
    address: Address | None = None
    status: CustomerStatus | None = None
    website: str | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    @classmethod
    def from_record(cls, record: SourceRecord) -> RecordChanges:
        return cls(
            name=record.name,
            person_name=record.person_name,
            email=record.email,
            phone=record.phone,
            address=record.address,
            status=record.status,
            website=record.website,
        )


@dataclass(frozen=True, slots=True)
class Project:
    system: SystemName
    id: str
    customer_id: str
    name: str
    status: str | None = None
    sub_status: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    owner: str | None = None
    updated_at: datetime | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Invoice:
    system: SystemName
    id: str
    customer_id: str
    number: str | None = None
    date: dt.date | None = None
    due_date: dt.date | None = None
    total: Decimal = Decimal(0)
    balance: Decimal = Decimal(0)
    currency: str | None = None
    updated_at: datetime | None = None
    url: str | None = None

    @property
    def is_open(self) -> bool:
        return self.balance > 0


@dataclass(frozen=True, slots=True)
class Document:
    system: SystemName
    id: str
    customer_id: str
    name: str
    document_type: str | None = None
    url: str | None = None
    modified: datetime | None = None


def with_changes(record: SourceRecord, changes: RecordChanges) -> SourceRecord:
    """The record as it would read after `changes` were applied (used for previews and tests)."""
    values = {f.name: getattr(changes, f.name) for f in fields(changes) if getattr(changes, f.name) is not None}
    return replace(record, **values)
