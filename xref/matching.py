"""The first matcher (exact-v1): normalized keys and union-find clustering. Pure functions, no I/O.

Two records are the same customer when they share any key:

- ``email``: the normalized email (trimmed, case-folded);
- ``phone``: the number in E.164 (extensions dropped; invalid numbers give no key);
- ``name_postal``: the normalized name (word order ignored) plus the 5-digit postal code.

Sharing is transitive (union-find), so A-B by email and B-C by phone make one cluster.

Giant-cluster guard: a shared inbox (``info@``, an accountant's address) or a
switchboard number can chain hundreds of unrelated customers into one. An email or
phone held by more than ``max_key_group`` records that carry two or more different
names is therefore not used as a key (it is counted in ``ClusterResult.ignored_keys``).
A value shared by a few records, or by many records of one name (true duplicates),
still links. Name+postal keys are not guarded: they already include the name.

Keys are kept as short digests, not values, so a bulk run over 100k records per
system holds no PII in memory beyond the record being read, and link evidence can
carry a `value_hash` that shows two links matched on the same value without saying which.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from connectors import SourceRecord, SystemName
# The normalizers live in xref.normalize; their old names stay importable from here.
from xref.normalize import DEFAULT_REGION, normalize_phone, normalize_postal_code
from xref.normalize import normalize_company_name as normalize_name
from xref.normalize import normalize_email_address as normalize_email

__all__ = [
    "DECIDED_BY",
    "DEFAULT_MAX_KEY_GROUP",
    "DEFAULT_REGION",
    "Cluster",
    "ClusterResult",
    "RecordKey",
    "RecordKeys",
    "RULE_CONFIDENCE",
    "cluster_records",
    "match_keys",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
    "normalize_postal_code",
]

#: Who decided links made here (stored in Link.decided_by).
DECIDED_BY: Final = "matcher:exact-v1"
#: More records than this sharing one email/phone under different names: the value is generic.
DEFAULT_MAX_KEY_GROUP: Final = 4
#: Confidence of a link by the strongest key it matched on; a record alone is surely its own customer.
RULE_CONFIDENCE: Final[Mapping[str, float]] = {"email": 0.99, "phone": 0.95, "name_postal": 0.9}
SINGLE_CONFIDENCE: Final = 1.0
_VALUE_HASH_LENGTH: Final = 10
_ALONE: Final[Mapping[str, Any]] = {"matched": []}

RecordKey = tuple[SystemName, str]

# -- keys -----------------------------------------------------------------------------------


def _digest(rule: str, value: str) -> str:
    return hashlib.blake2b(f"{rule}\x00{value}".encode(), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class RecordKeys:
    """What the matcher keeps of one record: its identity and digests of its match keys."""

    system: SystemName
    record_id: str
    #: (rule, digest) pairs, e.g. ("email", "9f86d081884c7d65").
    keys: tuple[tuple[str, str], ...]
    #: Digest of the normalized name, to tell "many records, one name" from a shared generic value.
    name: str | None = None

    @property
    def key(self) -> RecordKey:
        return (self.system, self.record_id)


def match_keys(record: SourceRecord, *, region: str = DEFAULT_REGION) -> RecordKeys:
    """The record's match keys; only digests are kept, not the values."""
    keys: list[tuple[str, str]] = []
    email = normalize_email(record.email)
    if email is not None:
        keys.append(("email", _digest("email", email)))
    phone = normalize_phone(record.phone, region)
    if phone is not None:
        keys.append(("phone", _digest("phone", phone)))
    names = [normalize_name(record.name)]
    if record.person_name is not None:
        names.append(normalize_name(record.person_name.full))
    postal = normalize_postal_code(record.address.postal_code) if record.address is not None else None
    seen: set[str] = set()
    for name in names:
        if name is None:
            continue
        # Word order ignored, so "Smith, John" and "John Smith" agree.
        ordered = " ".join(sorted(name.split()))
        if postal is not None and ordered not in seen:
            seen.add(ordered)
            keys.append(("name_postal", _digest("name_postal", f"{ordered}|{postal}")))
    first_name = next((n for n in names if n is not None), None)
    return RecordKeys(
        system=record.system,
        record_id=record.id,
        keys=tuple(keys),
        name=_digest("name", " ".join(sorted(first_name.split()))) if first_name else None,
    )


# -- clustering -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cluster:
    """Records judged to be one customer, with why each one is in it."""

    members: tuple[RecordKey, ...]
    #: Per member: {"matched": [{"rule": ..., "value_hash": ...}, ...]} (empty for a lone record).
    evidence: Mapping[RecordKey, Mapping[str, Any]] = field(default_factory=dict)
    confidence: Mapping[RecordKey, float] = field(default_factory=dict)
    #: Per member, who decided its link when not the run's matcher (e.g. "steward:ann").
    decided_by: Mapping[RecordKey, str] = field(default_factory=dict)

    @property
    def systems(self) -> frozenset[SystemName]:
        return frozenset(system for system, _ in self.members)

    @property
    def duplicates(self) -> int:
        """Records beyond the first of each system: within-system duplicates."""
        return len(self.members) - len(self.systems)


@dataclass(frozen=True, slots=True)
class ClusterResult:
    clusters: tuple[Cluster, ...]
    #: Generic email/phone values left out as keys by the giant-cluster guard, per rule.
    ignored_keys: Mapping[str, int]


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller index wins, which keeps the result independent of union order.
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra


def cluster_records(
    records: Iterable[RecordKeys], *, max_key_group: int = DEFAULT_MAX_KEY_GROUP
) -> ClusterResult:
    """Group records that share any key into clusters (see the module docstring for the guard).

    Deterministic: the same records in any order give the same clusters, members sorted
    by (system, record id) and clusters by their first member. A record given twice
    counts once.
    """
    unique: dict[RecordKey, RecordKeys] = {}
    for record in records:
        unique.setdefault(record.key, record)
    items: Sequence[RecordKeys] = [unique[k] for k in sorted(unique)]
    holders: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, record in enumerate(items):
        for key in record.keys:
            holders[key].append(index)

    ignored: dict[str, int] = defaultdict(int)
    uf = _UnionFind(len(items))
    used: dict[int, list[dict[str, str]]] = defaultdict(list)
    for (rule, digest), indexes in holders.items():
        if len(indexes) < 2:
            continue
        if rule != "name_postal" and len(indexes) > max_key_group:
            names = {items[i].name for i in indexes if items[i].name is not None}
            if len(names) > 1:
                ignored[rule] += 1
                continue
        first = indexes[0]
        for other in indexes[1:]:
            uf.union(first, other)
        proof = {"rule": rule, "value_hash": digest[:_VALUE_HASH_LENGTH]}
        for i in indexes:
            used[i].append(proof)

    groups: dict[int, list[int]] = defaultdict(list)
    for index in range(len(items)):
        groups[uf.find(index)].append(index)
    clusters = []
    for root in sorted(groups):
        indexes = groups[root]
        members = tuple(items[i].key for i in indexes)
        evidence: dict[RecordKey, Mapping[str, Any]] = {}
        confidence: dict[RecordKey, float] = {}
        for i in indexes:
            proofs = used.get(i)
            if not proofs:
                evidence[items[i].key] = _ALONE
                confidence[items[i].key] = SINGLE_CONFIDENCE
                continue
            proofs.sort(key=lambda p: (-RULE_CONFIDENCE[p["rule"]], p["value_hash"]))
            evidence[items[i].key] = {"matched": proofs}
            confidence[items[i].key] = RULE_CONFIDENCE[proofs[0]["rule"]]
        clusters.append(Cluster(members=members, evidence=evidence, confidence=confidence))
    return ClusterResult(clusters=tuple(clusters), ignored_keys=dict(ignored))
