"""The matching engine (fs-v1): normalize -> block -> score -> decide -> cluster. Pure, no I/O.

It turns a run's records and the stewards' standing decisions into clusters with the
evidence of every link, the pairs a person should review, and the decisions whose
records changed since they were made. Storing all that is the bulk runner's job.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from connectors import SystemName
from xref._match_types import MatchRecord, ScoredPair
from xref._score_thresholds import MatchThresholds
from xref._stewardship import DIFFERENT, SAME, DecisionInfo, PairKey, ReviewCandidate, pair_key
from xref.blocking import block_records
from xref.clustering import cluster
from xref._cluster_types import ClusterLink, RefusalReason
from xref.fellegi_sunter import FellegiSunterModel
from xref.matching import Cluster
from xref.scoring import compare_email, compare_name, compare_phone

DECIDED_BY: Final = "matcher:fs-v1"
RecordKey = tuple[SystemName, str]

#: The values a decision's fingerprint covers: what the comparison saw.
_FINGERPRINT_FIELDS: Final = (
    "name", "given", "family", "email", "phone", "street", "unit", "city", "state", "postal", "website_domain",
)


@dataclass(frozen=True)
class EngineSettings:
    thresholds: MatchThresholds = field(default_factory=MatchThresholds)
    #: Estimate m/u from the run's own candidate pairs (EM) instead of using the configured priors.
    fit: bool = True
    #: Per system pair, a record links to at most one record of the other system (best first).
    one_to_one: bool = False


@dataclass(frozen=True)
class EngineResult:
    clusters: tuple[Cluster, ...]
    review: tuple[ReviewCandidate, ...]
    #: Active decisions whose records' compared values changed: they go back to review.
    stale_decisions: tuple[int, ...]
    decisions_applied: int
    pairs_compared: int
    refused_merges: Mapping[str, int]
    model: FellegiSunterModel


def fingerprint(a: MatchRecord, b: MatchRecord) -> str:
    """A hash of the compared values of a pair, in canonical pair order; no value can be read back."""
    first, second = sorted((a, b), key=lambda r: (r.system.value, r.record_id))
    digest = hashlib.sha256()
    for record in (first, second):
        for name in _FINGERPRINT_FIELDS:
            digest.update(str(getattr(record, name) or "").encode())
            digest.update(b"\x1f")
        digest.update(b"\x1e")
    return digest.hexdigest()[:32]


def conflicting(a: MatchRecord, b: MatchRecord) -> bool:
    """Two records that can't be one customer however they got chained: names disagree, no shared identifier.

    This is the guard that keeps A~B and B~C from joining A and C (a shared generic inbox
    on one side, a shared switchboard number on the other).
    """
    if compare_name(a, b) not in ("low", "disagree"):
        return False
    return compare_email(a, b) != "exact" and compare_phone(a, b) != "exact"


def run_engine(
    records: Sequence[MatchRecord],
    decisions: Sequence[DecisionInfo] = (),
    settings: EngineSettings | None = None,
) -> EngineResult:
    """Match `records` (whose `index` must equal their position) under the stewards' `decisions`."""
    settings = settings or EngineSettings()
    for position, record in enumerate(records):
        if record.index != position:
            raise ValueError(f"record at position {position} has index {record.index}")
    position_of = {record.key: record.index for record in records}

    must_link: list[tuple[int, int]] = []
    cannot_link: list[tuple[int, int]] = []
    stale: list[tuple[DecisionInfo, int, int]] = []
    steward_of: dict[tuple[int, int], DecisionInfo] = {}
    for decision in decisions:
        left, right = (position_of.get(key) for key in decision.pair)
        if left is None or right is None:
            continue  # one side is gone from its system; the ruling waits, unapplied
        pair = (min(left, right), max(left, right))
        if decision.fingerprint and decision.fingerprint != fingerprint(records[left], records[right]):
            stale.append((decision, *pair))
            continue
        (must_link if decision.verdict == SAME else cannot_link).append(pair)
        steward_of[pair] = decision

    blocking = block_records(records)
    model = FellegiSunterModel()
    if settings.fit:
        model.fit(records, blocking.pairs)
    scored = model.score_many(records, blocking.pairs)
    thresholds = settings.thresholds

    def link_threshold(pair: ScoredPair) -> float:
        return thresholds.for_systems(records[pair.left].system, records[pair.right].system).link

    outcome = cluster(
        len(records),
        scored,
        link_threshold=link_threshold,
        must_link=must_link,
        cannot_link=cannot_link,
        conflicts=lambda i, j: conflicting(records[i], records[j]),
        one_to_one=(lambda i, j: records[i].system != records[j].system) if settings.one_to_one else None,
        systems=[record.system for record in records],
    )

    clusters = tuple(
        _to_cluster(members, records, outcome.attached_by, steward_of, model) for members in outcome.clusters
    )
    review = _review_items(records, scored, outcome, thresholds, steward_of, stale, model)
    refused: dict[str, int] = {}
    for merge in outcome.refused:
        refused[merge.reason.value] = refused.get(merge.reason.value, 0) + 1
    return EngineResult(
        clusters=clusters,
        review=review,
        stale_decisions=tuple(decision.id for decision, _, _ in stale),
        decisions_applied=len(steward_of),
        pairs_compared=len(blocking.pairs),
        refused_merges=refused,
        model=model,
    )


def _to_cluster(
    members: Sequence[int],
    records: Sequence[MatchRecord],
    attached_by: Mapping[int, ClusterLink],
    steward_of: Mapping[tuple[int, int], DecisionInfo],
    model: FellegiSunterModel,
) -> Cluster:
    keys = tuple(sorted(records[i].key for i in members))
    evidence: dict[RecordKey, Mapping[str, Any]] = {}
    confidence: dict[RecordKey, float] = {}
    decided_by: dict[RecordKey, str] = {}
    for i in members:
        key = records[i].key
        link = attached_by.get(i)
        if link is None:
            evidence[key] = {"matched": []}
            confidence[key] = 1.0
            continue
        other = records[link.right if link.left == i else link.left]
        ruling = steward_of.get((link.left, link.right))
        entry: dict[str, Any] = {"with": [other.system.value, other.record_id]}
        if link.pair is not None:
            entry["score"] = round(link.pair.score, 3)
            entry["attributes"] = link.pair.explain()
            confidence[key] = round(model.confidence(link.pair.score), 4)
        if ruling is not None and ruling.verdict == SAME:
            entry["decision"] = ruling.id
            decided_by[key] = ruling.decided_by
            confidence[key] = 1.0
        evidence[key] = entry
    return Cluster(members=keys, evidence=evidence, confidence=confidence, decided_by=decided_by)


def _review_items(
    records: Sequence[MatchRecord],
    scored: Sequence[ScoredPair],
    outcome: Any,
    thresholds: MatchThresholds,
    steward_of: Mapping[tuple[int, int], DecisionInfo],
    stale: Sequence[tuple[DecisionInfo, int, int]],
    model: FellegiSunterModel,
) -> tuple[ReviewCandidate, ...]:
    found: dict[PairKey, ReviewCandidate] = {}

    def add(pair: ScoredPair, reason: str) -> None:
        key = pair_key(records[pair.left].key, records[pair.right].key)
        if key not in found:
            found[key] = ReviewCandidate(pair=key, score=round(pair.score, 3), evidence=pair.explain(), reason=reason)

    for decision, left, right in stale:
        add(model.score(records[left], records[right]), "decision_changed")
    cluster_of = outcome.cluster_of
    for pair in scored:
        ends = (pair.left, pair.right)
        if ends in steward_of or cluster_of[pair.left] == cluster_of[pair.right]:
            continue
        t = thresholds.for_systems(records[pair.left].system, records[pair.right].system)
        if t.review <= pair.score < t.link:
            add(pair, "uncertain")
    for merge in outcome.refused:
        if merge.reason is RefusalReason.CONFLICT and merge.pair is not None:
            add(merge.pair, "conflict")
    return tuple(sorted(found.values(), key=lambda c: -c.score))


__all__ = ["DECIDED_BY", "EngineResult", "EngineSettings", "conflicting", "fingerprint", "run_engine", "DIFFERENT"]
