"""The links as rows, for `c360 xref export`: CSV or JSON, streamed so a big index does not sit in memory."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal, TextIO

from xref._service import XrefService
from xref._types import LinkInfo

__all__ = ["EXPORT_FIELDS", "ExportFormat", "ExportRow", "export_links", "write_rows"]

EXPORT_FIELDS: Final = ("golden_id", "system", "record_id", "confidence", "decided_by")
ExportFormat = Literal["csv", "json"]


@dataclass(frozen=True, slots=True)
class ExportRow:
    golden_id: str
    system: str
    record_id: str
    confidence: float
    decided_by: str

    @classmethod
    def from_link(cls, link: LinkInfo) -> ExportRow:
        return cls(link.customer_id, str(link.system), link.record_id, link.confidence, link.decided_by)

    def as_dict(self) -> dict[str, str | float]:
        return {name: getattr(self, name) for name in EXPORT_FIELDS}


class _Writer:
    """CSV with a header, or one JSON array with one object per line."""

    def __init__(self, out: TextIO, fmt: ExportFormat) -> None:
        if fmt not in ("csv", "json"):
            raise ValueError(f"unknown export format {fmt!r}; use csv or json")
        self._out = out
        self._fmt = fmt
        self._count = 0
        self._csv = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writerow(EXPORT_FIELDS)
        else:
            out.write("[")

    def write(self, row: ExportRow) -> None:
        if self._csv is not None:
            self._csv.writerow([row.golden_id, row.system, row.record_id, repr(row.confidence), row.decided_by])
        else:
            self._out.write(("\n" if self._count == 0 else ",\n") + json.dumps(row.as_dict()))
        self._count += 1

    def close(self) -> int:
        if self._csv is None:
            self._out.write("\n]\n" if self._count else "]\n")
        return self._count


def write_rows(rows: Iterable[ExportRow], out: TextIO, fmt: ExportFormat = "csv") -> int:
    """Write `rows` to `out`; returns how many were written."""
    writer = _Writer(out, fmt)
    for row in rows:
        writer.write(row)
    return writer.close()


async def export_links(service: XrefService, out: TextIO, fmt: ExportFormat = "csv") -> int:
    """Every link in the index (golden id, system, record id, confidence, decided_by), by golden id."""
    writer = _Writer(out, fmt)
    async for link in service.iter_links():
        writer.write(ExportRow.from_link(link))
    return writer.close()
