"""Bulk output of the generator: simulator SQLite files and the ground-truth CSV.

`Store.put_many` keeps every record in memory as well (the simulators want
that); a 100k-customer run writes about a million records, so the generator
writes the same `records` table directly, serialised as it goes, and never
holds more than one chunk.
"""

from __future__ import annotations

import csv
import os
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from sandbox._store import Store

DEFAULT_CHUNK = 5_000


class RecordSink:
    """Replaces one simulator's records: clears the store, then appends in chunked transactions."""

    def __init__(self, path: Path, *, meta: dict[str, str] | None = None, chunk: int = DEFAULT_CHUNK) -> None:
        store = Store(path)  # creates the file and the schema the simulators read
        try:
            store.clear()
            for key, value in (meta or {}).items():
                store.set_meta(key, value)
        finally:
            store.close()
        self.path = path
        self.counts: Counter[str] = Counter()
        self._chunk = chunk
        self._rows: list[tuple[str, int, bytes]] = []
        self._db = sqlite3.connect(str(path))
        # The file is rebuilt from scratch: a crash means "generate again", so skip the fsyncs.
        self._db.execute("PRAGMA synchronous=OFF")

    def add(self, collection: str, record_id: int, record: dict[str, Any]) -> None:
        self._rows.append((collection, record_id, orjson.dumps(record)))
        self.counts[collection] += 1
        if len(self._rows) >= self._chunk:
            self.flush()

    def flush(self) -> None:
        if not self._rows:
            return
        with self._db:
            self._db.executemany("INSERT INTO records (collection, id, data) VALUES (?, ?, ?)", self._rows)
        self._rows = []

    def close(self) -> None:
        """Flush, fold the WAL back into the main file and close."""
        self.flush()
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()

    def abort(self) -> None:
        """Stop after a failure; what was written stays (generate again to get a full set)."""
        self._rows = []
        self._db.close()


class GroundTruthWriter:
    """Streams `entity,system,record_id` rows; the file appears only once complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = path.with_name(path.name + ".tmp")
        self._fh = self._tmp.open("w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._fh, lineterminator="\n")
        self._csv.writerow(("entity", "system", "record_id"))

    def row(self, entity_id: str, system: str, record_id: int | str) -> None:
        self._csv.writerow((entity_id, system, record_id))

    def close(self) -> None:
        self._fh.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._fh.close()
        self._tmp.unlink(missing_ok=True)
