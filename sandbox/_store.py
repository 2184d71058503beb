"""Simulator state: records kept in memory for speed, written through to one SQLite file per system.

Each record is a JSON document in its system's *stored* shape (see `sandbox/STORAGE.md`);
the simulators turn it into their wire shape on the way out.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    collection TEXT NOT NULL,
    id INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: The keys a record is found under in one index (its email, its customer id, ...).
KeyFunc = Callable[[dict[str, Any]], Iterable[Hashable]]


class _Index:
    """Record ids by key, so an equality lookup costs what it finds rather than a scan.

    The keys each record was indexed under are remembered, so a record is taken out
    correctly even when the caller changed it in place before writing it again.
    """

    def __init__(self, keys: KeyFunc) -> None:
        self._keys = keys
        self._ids: dict[Hashable, set[int]] = {}
        self._keys_of: dict[int, frozenset[Hashable]] = {}

    def add(self, record_id: int, data: dict[str, Any]) -> None:
        keys = frozenset(self._keys(data))
        self._keys_of[record_id] = keys
        for key in keys:
            self._ids.setdefault(key, set()).add(record_id)

    def remove(self, record_id: int) -> None:
        for key in self._keys_of.pop(record_id, ()):
            ids = self._ids[key]
            ids.discard(record_id)
            if not ids:
                del self._ids[key]

    def ids(self, wanted: Iterable[Hashable]) -> set[int]:
        found: set[int] = set()
        for key in wanted:
            found.update(self._ids.get(key, ()))
        return found


class Collection:
    """An id-ordered set of JSON records of one kind (customers, invoices, ...)."""

    def __init__(self, store: Store, name: str, rows: dict[int, dict[str, Any]]) -> None:
        self._store = store
        self.name = name
        self._rows = rows
        self._next_id = (max(rows) + 1) if rows else 1
        self._indexes: dict[str, _Index] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, record_id: int) -> dict[str, Any] | None:
        return self._rows.get(record_id)

    def all(self) -> Iterator[dict[str, Any]]:
        """Records in ascending id order (paging relies on a stable order)."""
        for key in sorted(self._rows):
            yield self._rows[key]

    def ids(self) -> list[int]:
        return sorted(self._rows)

    def allocate_id(self) -> int:
        record_id = self._next_id
        self._next_id += 1
        return record_id

    def reserve_through(self, record_id: int) -> None:
        """Never allocate `record_id` or a lower id again (SharePoint does not reuse a deleted item's id)."""
        self._next_id = max(self._next_id, record_id + 1)

    def put(self, record_id: int, data: dict[str, Any]) -> None:
        self._keep(record_id, data)
        self._store._write([(self.name, record_id, data)])

    def put_many(self, rows: Iterable[tuple[int, dict[str, Any]]]) -> None:
        batch = []
        for record_id, data in rows:
            self._keep(record_id, data)
            batch.append((self.name, record_id, data))
        self._store._write(batch)

    def delete(self, record_id: int) -> None:
        self._rows.pop(record_id, None)
        for index in self._indexes.values():
            index.remove(record_id)
        self._store._delete(self.name, record_id)

    def _keep(self, record_id: int, data: dict[str, Any]) -> None:
        """Hold a written record in memory and move it in every index, before anyone reads again."""
        self._rows[record_id] = data
        self._next_id = max(self._next_id, record_id + 1)
        for index in self._indexes.values():
            index.remove(record_id)
            index.add(record_id, data)

    # --- lookups by key ----------------------------------------------------------------------

    def lookup(self, index: str, keys: KeyFunc, wanted: Iterable[Hashable]) -> set[int]:
        """Ids of the records with any of `wanted` among their `keys`.

        The index called `index` is built from every record on first use and then kept
        in step by put/put_many/delete; the first `keys` given for a name is the one used,
        so a name must always mean the same key function.
        """
        return self._index(index, keys).ids(wanted)

    def find(self, index: str, keys: KeyFunc, wanted: Iterable[Hashable]) -> list[dict[str, Any]]:
        """`lookup` as records, in ascending id order like `all()`."""
        return self.records(self.lookup(index, keys, wanted))

    def records(self, ids: Iterable[int]) -> list[dict[str, Any]]:
        """The stored records among `ids`, in ascending id order."""
        rows = self._rows
        return [rows[record_id] for record_id in sorted(ids) if record_id in rows]

    def _index(self, name: str, keys: KeyFunc) -> _Index:
        index = self._indexes.get(name)
        if index is None:
            index = _Index(keys)
            for record_id, data in self._rows.items():
                index.add(record_id, data)
            self._indexes[name] = index
        return index


class Store:
    """All collections of one simulator. `path=None` keeps everything in memory only."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path) if self.path else ":memory:", check_same_thread=False)
        self._db.executescript(_SCHEMA)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()
        self._collections: dict[str, Collection] = {}

    def collection(self, name: str) -> Collection:
        if name not in self._collections:
            rows = {
                record_id: orjson.loads(data)
                for record_id, data in self._db.execute(
                    "SELECT id, data FROM records WHERE collection = ? ORDER BY id", (name,)
                )
            }
            self._collections[name] = Collection(self, name, rows)
        return self._collections[name]

    def count(self, name: str) -> int:
        """Records in a collection, asked of SQLite: no need to load 100k records to know there are some."""
        if name in self._collections:
            return len(self._collections[name])
        row = self._db.execute("SELECT COUNT(*) FROM records WHERE collection = ?", (name,)).fetchone()
        return int(row[0])

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def clear(self) -> None:
        """Drop every record (a fresh, empty system)."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM records")
        self._collections.clear()

    def close(self) -> None:
        self._db.close()

    def _write(self, batch: list[tuple[str, int, dict[str, Any]]]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO records (collection, id, data) VALUES (?, ?, ?)",
                [(c, i, orjson.dumps(d)) for c, i, d in batch],
            )

    def _delete(self, collection: str, record_id: int) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM records WHERE collection = ? AND id = ?", (collection, record_id))
