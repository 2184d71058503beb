"""JSON (de)serialization of cached values, for cache backends shared between processes (Redis).

Explicit per type rather than pickle: a shared cache must never execute what it
reads, and an explicit shape survives a refactor of the classes (a field added to a
record shows up as a failing round-trip test, not as silently missing data).

Every cached value is one of: a `SourceRecord`, `None` (the system has no such
record: negative caching), or a tuple of `Invoice` / `Project` / `Document` (a
customer's relation). Entries wrap the value with their write time and the time
until which they are fresh.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeAlias, TypeVar

import orjson

from connectors._record import (
    Address,
    CustomerStatus,
    Document,
    Invoice,
    PersonName,
    Project,
    SourceRecord,
    SystemName,
)

__all__ = ["CacheEntry", "CachedValue", "RelationItem", "decode_entry", "encode_entry"]

RelationItem: TypeAlias = Invoice | Project | Document
CachedValue: TypeAlias = SourceRecord | tuple[RelationItem, ...] | None

#: Bumped when the stored shape changes; entries of another format read as misses.
FORMAT = 1

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A cached value with its clock readings (wall-clock seconds, comparable across processes)."""

    value: CachedValue
    stored_at: float
    fresh_until: float

    def is_fresh(self, now: float) -> bool:
        return now < self.fresh_until

    def age(self, now: float) -> float:
        return max(0.0, now - self.stored_at)


class CodecError(ValueError):
    """A stored value could not be decoded (another format, or corrupt): treat it as a miss."""


# -- scalars ------------------------------------------------------------------------------------


def _opt(fn: Callable[[Any], _T], value: Any) -> _T | None:
    return None if value is None else fn(value)


def _dt_out(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt_in(value: str | None) -> dt.datetime | None:
    return _opt(dt.datetime.fromisoformat, value)


def _date_out(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date_in(value: str | None) -> dt.date | None:
    return _opt(dt.date.fromisoformat, value)


def _dec_out(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# -- records ------------------------------------------------------------------------------------


def _address_out(a: Address | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "line1": a.line1, "line2": a.line2, "city": a.city, "state": a.state,
        "postal_code": a.postal_code, "country": a.country,
    }


def _address_in(d: Mapping[str, Any] | None) -> Address | None:
    if d is None:
        return None
    return Address(
        line1=d["line1"], line2=d["line2"], city=d["city"], state=d["state"],
        postal_code=d["postal_code"], country=d["country"],
    )


def _person_out(p: PersonName | None) -> dict[str, Any] | None:
    return None if p is None else {"given": p.given, "family": p.family}


def _person_in(d: Mapping[str, Any] | None) -> PersonName | None:
    return None if d is None else PersonName(given=d["given"], family=d["family"])


def record_to_json(r: SourceRecord) -> dict[str, Any]:
    return {
        "$": "record",
        "system": str(r.system),
        "id": r.id,
        "version": r.version,
        "updated_at": _dt_out(r.updated_at),
        "name": r.name,
        "person_name": _person_out(r.person_name),
        "email": r.email,
        "phone": r.phone,
        "address": _address_out(r.address),
        "status": None if r.status is None else str(r.status),
        "website": r.website,
        "url": r.url,
        "balance": _dec_out(r.balance),
        # The system's own JSON body, so it is JSON already.
        "raw": dict(r.raw),
    }


def record_from_json(d: Mapping[str, Any]) -> SourceRecord:
    return SourceRecord(
        system=SystemName(d["system"]),
        id=d["id"],
        version=d["version"],
        updated_at=_dt_in(d["updated_at"]),
        name=d["name"],
        person_name=_person_in(d["person_name"]),
        email=d["email"],
        phone=d["phone"],
        address=_address_in(d["address"]),
        status=_opt(CustomerStatus, d["status"]),
        website=d["website"],
        url=d["url"],
        balance=_opt(Decimal, d["balance"]),
        raw=d["raw"],
    )


def invoice_to_json(i: Invoice) -> dict[str, Any]:
    return {
        "$": "invoice",
        "system": str(i.system),
        "id": i.id,
        "customer_id": i.customer_id,
        "number": i.number,
        "date": _date_out(i.date),
        "due_date": _date_out(i.due_date),
        "total": str(i.total),
        "balance": str(i.balance),
        "currency": i.currency,
        "updated_at": _dt_out(i.updated_at),
        "url": i.url,
    }


def invoice_from_json(d: Mapping[str, Any]) -> Invoice:
    return Invoice(
        system=SystemName(d["system"]),
        id=d["id"],
        customer_id=d["customer_id"],
        number=d["number"],
        date=_date_in(d["date"]),
        due_date=_date_in(d["due_date"]),
        total=Decimal(d["total"]),
        balance=Decimal(d["balance"]),
        currency=d["currency"],
        updated_at=_dt_in(d["updated_at"]),
        url=d["url"],
    )


def project_to_json(p: Project) -> dict[str, Any]:
    return {
        "$": "project",
        "system": str(p.system),
        "id": p.id,
        "customer_id": p.customer_id,
        "name": p.name,
        "status": p.status,
        "sub_status": p.sub_status,
        "start_date": _date_out(p.start_date),
        "end_date": _date_out(p.end_date),
        "owner": p.owner,
        "updated_at": _dt_out(p.updated_at),
        "url": p.url,
    }


def project_from_json(d: Mapping[str, Any]) -> Project:
    return Project(
        system=SystemName(d["system"]),
        id=d["id"],
        customer_id=d["customer_id"],
        name=d["name"],
        status=d["status"],
        sub_status=d["sub_status"],
        start_date=_date_in(d["start_date"]),
        end_date=_date_in(d["end_date"]),
        owner=d["owner"],
        updated_at=_dt_in(d["updated_at"]),
        url=d["url"],
    )


def document_to_json(doc: Document) -> dict[str, Any]:
    return {
        "$": "document",
        "system": str(doc.system),
        "id": doc.id,
        "customer_id": doc.customer_id,
        "name": doc.name,
        "document_type": doc.document_type,
        "url": doc.url,
        "modified": _dt_out(doc.modified),
    }


def document_from_json(d: Mapping[str, Any]) -> Document:
    return Document(
        system=SystemName(d["system"]),
        id=d["id"],
        customer_id=d["customer_id"],
        name=d["name"],
        document_type=d["document_type"],
        url=d["url"],
        modified=_dt_in(d["modified"]),
    )


_ITEM_DECODERS: dict[str, Callable[[Mapping[str, Any]], RelationItem]] = {
    "invoice": invoice_from_json,
    "project": project_from_json,
    "document": document_from_json,
}


def _item_to_json(item: RelationItem) -> dict[str, Any]:
    if isinstance(item, Invoice):
        return invoice_to_json(item)
    if isinstance(item, Project):
        return project_to_json(item)
    if isinstance(item, Document):
        return document_to_json(item)
    raise TypeError(f"cannot cache a {type(item).__name__}")


def value_to_json(value: CachedValue) -> Any:
    if value is None:
        return None
    if isinstance(value, SourceRecord):
        return record_to_json(value)
    if isinstance(value, tuple):
        return {"$": "list", "items": [_item_to_json(item) for item in value]}
    raise TypeError(f"cannot cache a {type(value).__name__}")


def value_from_json(d: Any) -> CachedValue:
    if d is None:
        return None
    kind = d["$"]
    if kind == "record":
        return record_from_json(d)
    if kind == "list":
        return tuple(_ITEM_DECODERS[item["$"]](item) for item in d["items"])
    raise CodecError(f"unknown cached value kind {kind!r}")


def encode_entry(entry: CacheEntry) -> bytes:
    return orjson.dumps(
        {"f": FORMAT, "at": entry.stored_at, "until": entry.fresh_until, "v": value_to_json(entry.value)}
    )


def decode_entry(data: bytes | str) -> CacheEntry:
    """The entry stored by `encode_entry`; CodecError for anything else (never the stored text)."""
    try:
        d = orjson.loads(data)
        if d.get("f") != FORMAT:
            raise CodecError(f"cached entry of format {d.get('f')!r}, expected {FORMAT}")
        return CacheEntry(value=value_from_json(d["v"]), stored_at=float(d["at"]), fresh_until=float(d["until"]))
    except CodecError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # No `from exc` detail in the message: it could quote customer data.
        raise CodecError(f"undecodable cached entry ({type(exc).__name__})") from None
