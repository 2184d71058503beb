"""The Redis form of cached values: explicit JSON that round-trips every field of every cached type."""

from __future__ import annotations

import datetime as dt
from dataclasses import fields
from decimal import Decimal

import pytest

from connectors import (
    Address,
    CustomerStatus,
    Document,
    Invoice,
    PersonName,
    Project,
    SourceRecord,
    SystemName,
)
from connectors._cache_codec import (
    FORMAT,
    CacheEntry,
    CodecError,
    decode_entry,
    document_to_json,
    encode_entry,
    invoice_to_json,
    project_to_json,
    record_to_json,
)

WHEN = dt.datetime(2024, 6, 1, 12, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=-5)))

RECORD = SourceRecord(
    system=SystemName.QUICKBOOKS,
    id="58",
    version="3",
    updated_at=WHEN,
    name="Acme Ltd",
    person_name=PersonName("Ada", "Lovelace"),
    email="ada@example.com",
    phone="+1 555 0100",
    address=Address("1 Main St", "Suite 2", "Springfield", "IL", "62701", "US"),
    status=CustomerStatus.ACTIVE,
    website="https://acme.example",
    url="https://qbo.example/customer/58",
    balance=Decimal("1234.50"),
    raw={"Id": "58", "Balance": 1234.5, "Nested": {"List": [1, "two", None, True]}},
)
INVOICE = Invoice(SystemName.QUICKBOOKS, "1001", "58", "INV-1", dt.date(2024, 5, 1), dt.date(2024, 5, 31),
                  Decimal("120.10"), Decimal("0.00"), "USD", WHEN, "https://qbo.example/invoice/1001")
PROJECT = Project(SystemName.TEAMWORK, "77", "9001", "Website", "active", "late", dt.date(2024, 1, 1),
                  dt.date(2024, 12, 31), "Grace Hopper", WHEN, "https://tw.example/projects/77")
DOCUMENT = Document(SystemName.SHAREPOINT, "d1", "17", "SOW.docx", "sow", "https://sp.example/SOW.docx", WHEN)


@pytest.mark.parametrize(
    "value", [RECORD, None, (), (INVOICE,), (PROJECT, PROJECT), (DOCUMENT,), SourceRecord(SystemName.TEAMWORK, "1")]
)
def test_entries_round_trip(value: object) -> None:
    entry = CacheEntry(value=value, stored_at=1.5, fresh_until=61.5)  # type: ignore[arg-type]
    back = decode_entry(encode_entry(entry))
    assert back == entry
    if isinstance(value, SourceRecord):
        assert isinstance(back.value, SourceRecord) and back.value.raw == value.raw  # raw is compare=False
        assert back.value.updated_at == value.updated_at


@pytest.mark.parametrize(
    ("cls", "encode", "value"),
    [(SourceRecord, record_to_json, RECORD), (Invoice, invoice_to_json, INVOICE),
     (Project, project_to_json, PROJECT), (Document, document_to_json, DOCUMENT)],
)
def test_every_field_is_written(cls: type, encode: object, value: object) -> None:
    """A field added to a cached class must be added to the codec too (this test says so)."""
    written = set(encode(value)) - {"$"}  # type: ignore[operator]
    assert written == {f.name for f in fields(cls)}


@pytest.mark.parametrize(
    "data", [b"not json", b"{}", b'{"f": 999, "at": 1, "until": 2, "v": null}', b'{"f": 1, "at": 1, "until": 2, "v": {"$": "pickle"}}']
)
def test_unreadable_entries_raise_codec_error(data: bytes) -> None:
    with pytest.raises(CodecError):
        decode_entry(data)


def test_format_is_versioned() -> None:
    assert b'"f":%d' % FORMAT in encode_entry(CacheEntry(None, 0.0, 1.0))
