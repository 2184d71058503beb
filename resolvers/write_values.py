"""Canonical write values in JSON form, for the outbox, the audit log and idempotent replays.

Why a module of its own: the outbox keeps a change until a system accepts it, possibly
across a restart, and the audit log keeps before/after for people to read; both store
JSON, and both must turn it back into the same `RecordChanges` the mutation computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any

from connectors import Address, CustomerStatus, PersonName, RecordChanges, SourceRecord

#: The canonical attributes a write can set, in a stable order (the fields of RecordChanges).
WRITABLE: tuple[str, ...] = tuple(f.name for f in fields(RecordChanges))


def value_to_json(value: Any) -> Any:
    """A canonical attribute value as JSON (addresses and names as objects, statuses as text)."""
    if isinstance(value, Address | PersonName):
        return asdict(value)
    if isinstance(value, CustomerStatus):
        return value.value
    return value


def value_from_json(attribute: str, value: Any) -> Any:
    if value is None:
        return None
    if attribute == "address":
        return Address(**value)
    if attribute == "person_name":
        return PersonName(**value)
    if attribute == "status":
        return CustomerStatus(value)
    return value


def changes_to_json(changes: RecordChanges) -> dict[str, Any]:
    """Only the attributes the change sets (None means "leave as is" and is left out)."""
    return {name: value_to_json(getattr(changes, name)) for name in WRITABLE if getattr(changes, name) is not None}


def changes_from_json(data: Mapping[str, Any]) -> RecordChanges:
    unknown = set(data) - set(WRITABLE)
    if unknown:
        raise ValueError(f"unknown attributes in a stored change: {sorted(unknown)}")
    return RecordChanges(**{name: value_from_json(name, value) for name, value in data.items()})


def set_attributes(changes: RecordChanges) -> tuple[str, ...]:
    """The attributes `changes` sets, in canonical order."""
    return tuple(name for name in WRITABLE if getattr(changes, name) is not None)


def restore(record: SourceRecord, attributes: tuple[str, ...]) -> RecordChanges:
    """The change that puts `attributes` back to what `record` held (compensation).

    An attribute the record did not hold is cleared ("" for text, an empty address), since
    None would mean "leave the written value in place".
    """
    values: dict[str, Any] = {}
    for name in attributes:
        before = getattr(record, name)
        if before is None:
            before = {"address": Address(), "person_name": PersonName()}.get(name, "")
            if name == "status":
                continue  # every system has some status; there is nothing to clear it to
        values[name] = before
    return RecordChanges(**values)


def merged(older: RecordChanges, newer: RecordChanges) -> RecordChanges:
    """`newer` over `older`: the attributes both set take `newer`'s value (last intent wins)."""
    return RecordChanges(**{
        name: getattr(newer, name) if getattr(newer, name) is not None else getattr(older, name) for name in WRITABLE
    })
