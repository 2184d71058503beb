"""`c360 xref export`: every link as CSV or JSON rows."""

from __future__ import annotations

import csv
import io
import json

import pytest

from connectors import SystemName
from xref import XrefService
from xref.export import EXPORT_FIELDS, ExportRow, export_links, write_rows
from xref.matching import Cluster

SP, QB = SystemName.SHAREPOINT, SystemName.QUICKBOOKS


async def _index(service: XrefService) -> tuple[str, str]:
    await service.apply_clusters(
        [
            Cluster(members=((QB, "58"), (SP, "1")), confidence={(QB, "58"): 0.99, (SP, "1"): 0.9}),
            Cluster(members=((SP, "2"),)),
        ]
    )
    return await service.customer_for(SP, "1") or "", await service.customer_for(SP, "2") or ""


async def test_csv_export_has_one_row_per_link(service: XrefService) -> None:
    acme, other = await _index(service)
    out = io.StringIO()

    count = await export_links(service, out, "csv")

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert count == 3
    assert tuple(rows[0]) == EXPORT_FIELDS
    assert sorted((r["golden_id"], r["system"], r["record_id"], float(r["confidence"]), r["decided_by"]) for r in rows) == sorted(
        [
            (acme, "quickbooks", "58", 0.99, "matcher:exact-v1"),
            (acme, "sharepoint", "1", 0.9, "matcher:exact-v1"),
            (other, "sharepoint", "2", 1.0, "matcher:exact-v1"),
        ]
    )
    assert [r["golden_id"] for r in rows] == sorted(r["golden_id"] for r in rows)


async def test_json_export_is_a_list_of_the_same_rows(service: XrefService) -> None:
    acme, _ = await _index(service)
    out = io.StringIO()

    await export_links(service, out, "json")

    rows = json.loads(out.getvalue())
    assert len(rows) == 3
    assert {"golden_id": acme, "system": "quickbooks", "record_id": "58", "confidence": 0.99,
            "decided_by": "matcher:exact-v1"} in rows


@pytest.mark.parametrize(("fmt", "expected"), [("csv", ",".join(EXPORT_FIELDS) + "\n"), ("json", "[]\n")])
def test_an_empty_index_exports_an_empty_document(fmt: str, expected: str) -> None:
    out = io.StringIO()
    assert write_rows([], out, fmt) == 0  # type: ignore[arg-type]
    assert out.getvalue() == expected


def test_unknown_formats_are_refused() -> None:
    with pytest.raises(ValueError):
        write_rows([ExportRow("cus_x", "sharepoint", "1", 1.0, "matcher:exact-v1")], io.StringIO(), "xml")  # type: ignore[arg-type]
