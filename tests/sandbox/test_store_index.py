"""Store indexes (`Collection.find`): lookups stay right however records are written or removed."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

from sandbox._store import Collection, Store


def by_city(record: dict[str, Any]) -> tuple[Hashable]:
    return (record.get("city"),)


def by_tags(record: dict[str, Any]) -> list[Hashable]:
    return list(record.get("tags", []))


def ids_in(collection: Collection, city: str) -> list[int]:
    return [r["id"] for r in collection.find("city", by_city, [city])]


def seeded() -> Collection:
    collection = Store(None).collection("things")
    collection.put_many([(3, {"id": 3, "city": "Oslo"}), (1, {"id": 1, "city": "Oslo"}), (2, {"id": 2, "city": "Rome"})])
    return collection


def test_find_returns_matches_in_id_order_like_all() -> None:
    collection = seeded()
    assert ids_in(collection, "Oslo") == [1, 3]
    assert ids_in(collection, "Paris") == []
    assert [r["id"] for r in collection.find("city", by_city, ["Rome", "Oslo"])] == [1, 2, 3]


def test_index_follows_insert_update_and_delete() -> None:
    collection = seeded()
    assert ids_in(collection, "Oslo") == [1, 3]  # builds the index before the writes below
    collection.put(4, {"id": 4, "city": "Oslo"})
    collection.put(1, {"id": 1, "city": "Rome"})
    collection.delete(3)
    assert ids_in(collection, "Oslo") == [4]
    assert ids_in(collection, "Rome") == [1, 2]
    collection.put_many([(2, {"id": 2, "city": "Paris"}), (5, {"id": 5, "city": "Rome"})])
    assert ids_in(collection, "Rome") == [1, 5]
    assert ids_in(collection, "Paris") == [2]


def test_a_record_changed_in_place_leaves_its_old_key_when_written_again() -> None:
    collection = seeded()
    assert ids_in(collection, "Oslo") == [1, 3]
    record = collection.get(1)
    assert record is not None
    record["city"] = "Rome"
    collection.put(1, record)
    assert ids_in(collection, "Oslo") == [3]
    assert ids_in(collection, "Rome") == [1, 2]


def test_records_under_several_keys_are_found_once() -> None:
    collection = Store(None).collection("things")
    collection.put(1, {"id": 1, "tags": ["a", "b"]})
    collection.put(2, {"id": 2, "tags": ["b"]})
    assert [r["id"] for r in collection.find("tags", by_tags, ["a", "b"])] == [1, 2]
    collection.put(1, {"id": 1, "tags": ["c"]})
    assert collection.lookup("tags", by_tags, ["a"]) == set()
    assert collection.lookup("tags", by_tags, ["b", "c"]) == {1, 2}


def test_indexes_cover_records_loaded_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    writer = Store(path)
    writer.collection("things").put_many([(1, {"id": 1, "city": "Oslo"}), (2, {"id": 2, "city": "Rome"})])
    writer.close()
    assert ids_in(Store(path).collection("things"), "Rome") == [2]


def test_records_skips_ids_no_longer_stored() -> None:
    collection = seeded()
    assert [r["id"] for r in collection.records([3, 9, 1])] == [1, 3]
