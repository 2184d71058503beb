"""Stable golden ids across re-clustering. Pure functions, no I/O.

Rules (so that a bookmarked customer id keeps meaning the same customer):

- a cluster whose records are already linked keeps the golden id that holds most of
  its records (earliest created wins a tie, then the smaller id);
- one golden id goes to one cluster only: when a customer splits, the part holding
  most of its records keeps the id and the other part takes its next best id or a new one;
- a cluster of records no one holds yet gets a new id;
- an id left without records is retired, and `merged_into` the id that took most of
  its records, if any did;
- ids are never reused: retired ids are not candidates (they hold no records).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from xref.matching import RecordKey

__all__ = ["Assignment", "assign_golden_ids"]


@dataclass(frozen=True, slots=True)
class Assignment:
    #: The golden id of each cluster, in the order the clusters were given.
    cluster_ids: tuple[str, ...]
    #: Ids made for clusters no existing id could take.
    new_ids: tuple[str, ...]
    #: Ids that hold records now and will hold none: id -> the id that took most of them (or None).
    retired: Mapping[str, str | None]


def assign_golden_ids(
    clusters: Sequence[Sequence[RecordKey]],
    current: Mapping[RecordKey, str],
    created_at: Mapping[str, datetime],
    new_id: Callable[[], str],
) -> Assignment:
    """Pick a golden id for every cluster.

    `current` maps the records in scope to the golden id holding them now; `created_at`
    gives the creation time of every id in `current`. Only ids in `current` can be kept.
    """
    claims: list[tuple[int, datetime, str, int]] = []
    for index, members in enumerate(clusters):
        held = Counter(current[m] for m in members if m in current)
        for golden, count in held.items():
            claims.append((-count, created_at[golden], golden, index))
    claims.sort()

    chosen: dict[int, str] = {}
    taken: set[str] = set()
    for _, _, golden, index in claims:
        if index not in chosen and golden not in taken:
            chosen[index] = golden
            taken.add(golden)

    # Ids sort in issue order, and lists show customers in id order: customers known to
    # more systems get their ids first, so the first page of a fresh index is the richest.
    unclaimed = sorted(
        (index for index in range(len(clusters)) if index not in chosen),
        key=lambda index: (-len({system for system, _ in clusters[index]}), -len(clusters[index]), index),
    )
    new_ids: list[str] = []
    for index in unclaimed:
        chosen[index] = new_id()
        new_ids.append(chosen[index])
    cluster_ids = [chosen[index] for index in range(len(clusters))]

    # Where did the records of each id that lost its cluster go?
    moved_to: dict[str, Counter[str]] = defaultdict(Counter)
    for index, members in enumerate(clusters):
        for member in members:
            old = current.get(member)
            if old is not None and old not in taken:
                moved_to[old][cluster_ids[index]] += 1
    retired: dict[str, str | None] = {}
    for old in set(current.values()) - taken:
        targets = moved_to.get(old)
        if targets:
            retired[old] = min(targets, key=lambda g: (-targets[g], g))
        else:
            retired[old] = None
    return Assignment(cluster_ids=tuple(cluster_ids), new_ids=tuple(new_ids), retired=retired)
