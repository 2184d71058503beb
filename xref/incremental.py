"""Incremental match: one new or changed record placed in the index without a bulk run.

Used by webhooks and polling (a record changed in its system) and by create (a record the
gateway just wrote). Candidates are found live through the connectors' `search`, never
from a copy of customer data, and scored against the record with the bulk run's model on
its priors. Steward rulings win, as in the bulk run: a "same" ruling places the record,
a "different" ruling rules a customer out, and a link a person made is never moved here.

Incremental evidence is partial (a search sees fewer records than a bulk run, and a
system may be down), so this only ever adds certainty: it links, or it leaves a record
where it is. Splitting a linked record off is left to the bulk run and to stewards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from connectors import Connector, SourceRecord, SystemName
from xref._match_types import MatchRecord
from xref._score_thresholds import Decision
from xref._service import LinkOutcome, XrefService
from xref._stewardship import DIFFERENT, SAME, DecisionInfo, ReviewCandidate, Stewardship, pair_key
from xref.candidates import Candidate, ScoredHit, group_candidates, score_hits, search_sources
from xref.engine import DECIDED_BY, EngineSettings, conflicting
from xref.fellegi_sunter import FellegiSunterModel
from xref.normalize import DEFAULT_REGION, normalize_record

__all__ = ["IncrementalResult", "MatchAction", "match_one"]

RecordKey = tuple[SystemName, str]

_MATCHER_PREFIX: Final = "matcher:"
_ALONE: Final[Mapping[str, Any]] = {"matched": []}


class MatchAction(StrEnum):
    #: Linked to (or moved into) an existing customer, or its link refreshed there.
    LINKED = "linked"
    #: Given a golden customer of its own.
    NEW = "new"
    #: Left where it was: a person placed it, or nothing is certain enough to move it.
    KEPT = "kept"


@dataclass(frozen=True, slots=True)
class IncrementalResult:
    """Where one record ended up, and why."""

    record: RecordKey
    customer_id: str
    action: MatchAction
    #: The link change made (None when nothing was written).
    link: LinkOutcome | None
    #: The candidate the record was linked to by score (None for NEW, KEPT or a steward's ruling).
    linked_to: Candidate | None
    #: Every candidate scored, best first, steward-excluded ones left out.
    candidates: tuple[Candidate, ...]
    #: Pairs put in the review queue.
    review: tuple[ReviewCandidate, ...]
    #: Golden ids ruled out by a steward's "different" ruling.
    excluded: tuple[str, ...] = ()
    #: Systems that could not be searched (system -> why).
    unavailable: Mapping[SystemName, str] = field(default_factory=dict)


def _partners(decisions: Sequence[DecisionInfo], key: RecordKey) -> tuple[dict[RecordKey, DecisionInfo], dict[RecordKey, DecisionInfo]]:
    """The records a steward ruled the same as `key`, and those ruled different."""
    same: dict[RecordKey, DecisionInfo] = {}
    different: dict[RecordKey, DecisionInfo] = {}
    for decision in decisions:
        left, right = decision.pair
        other = right if left == key else left if right == key else None
        if other is None:
            continue
        if decision.verdict == SAME:
            same[other] = decision
        elif decision.verdict == DIFFERENT:
            different[other] = decision
    return same, different


async def match_one(
    record: SourceRecord,
    connectors: Mapping[SystemName, Connector],
    xref: XrefService,
    *,
    region: str = DEFAULT_REGION,
    settings: EngineSettings | None = None,
) -> IncrementalResult:
    """Match `record` against the index: link it to the customer it surely is, or make it its own.

    At or above the link threshold (for the two records' systems) and in the index: linked
    there. Between the thresholds: its own customer, with the pair in the review queue.
    Below: its own customer. A record already linked moves only on a sure match elsewhere.
    """
    settings = settings or EngineSettings()
    thresholds = settings.thresholds
    key = record.key
    stewardship = Stewardship(xref.sessions)

    if record.name or record.email or record.phone:
        found, unavailable = await search_sources(connectors, name=record.name, email=record.email, phone=record.phone)
    else:
        found, unavailable = [], {}
    found = [hit for hit in found if hit.key != key]

    current = await xref.customer_for(record.system, record.id)
    decisions = await stewardship.decisions()
    same, different = _partners(decisions, key)

    owners = await xref.customers_for([hit.key for hit in found] + list(same) + list(different))
    owner_ids = sorted({owners[hit.key] for hit in found if hit.key in owners})
    members = await xref.links_for(owner_ids) if owner_ids else {}
    excluded = sorted(
        cid for cid in owner_ids if any(link.key in different for link in members.get(cid, []))
    )
    probe = normalize_record(record, 0, region=region)
    model = FellegiSunterModel()
    hits = [
        hit
        for hit in score_hits(
            probe, found, owners, model, lambda score, system: thresholds.decide(score, record.system, system), region
        )
        if hit.key not in different and hit.customer_id not in excluded
    ]
    candidates = group_candidates(hits, model)

    outcome: LinkOutcome | None = None
    linked_to: Candidate | None = None
    current_link = None
    if current is not None:
        current_links = members[current] if current in members else (await xref.links_for([current]))[current]
        current_link = next((link for link in current_links if link.key == key), None)
    steward_target = _steward_target(same, owners, current)
    sure, conflicted = _sure_candidate(candidates, hits, probe)

    if steward_target is not None:
        decision = same[steward_target[1]]
        if steward_target[0] == current:
            action, customer_id = MatchAction.KEPT, current
        else:
            outcome = await xref.link_record(
                record.system, record.id, steward_target[0], confidence=1.0,
                evidence={"with": list(steward_target[1]), "decision": decision.id}, decided_by=decision.decided_by,
            )
            action, customer_id = MatchAction.LINKED, outcome.customer_id
    elif current is not None and current_link is not None and not current_link.decided_by.startswith(_MATCHER_PREFIX):
        action, customer_id = MatchAction.KEPT, current
    elif sure is not None and sure.customer_id is not None:
        outcome = await xref.link_record(
            record.system, record.id, sure.customer_id,
            confidence=sure.confidence,
            evidence={"with": list(sure.best), "score": sure.score, "attributes": dict(sure.evidence)},
            decided_by=DECIDED_BY,
        )
        linked_to = sure
        action, customer_id = MatchAction.LINKED, outcome.customer_id
    elif current is not None:
        action, customer_id = MatchAction.KEPT, current
    else:
        outcome = await xref.link_record(
            record.system, record.id, None, confidence=1.0, evidence=_ALONE, decided_by=DECIDED_BY
        )
        action, customer_id = MatchAction.NEW, outcome.customer_id

    review = tuple(
        ReviewCandidate(
            pair=pair_key(key, candidate.best),
            score=candidate.score,
            evidence=candidate.evidence,
            reason="conflict" if candidate.customer_id in conflicted else "uncertain",
        )
        for candidate in candidates
        if candidate.customer_id != customer_id
        and (candidate.decision is Decision.REVIEW or (candidate.decision is Decision.LINK and candidate is not linked_to))
    )
    if review:
        await stewardship.add_review_items(None, review)
    return IncrementalResult(
        record=key,
        customer_id=customer_id,
        action=action,
        link=outcome,
        linked_to=linked_to,
        candidates=tuple(candidates),
        review=review,
        excluded=tuple(excluded),
        unavailable=unavailable,
    )


def _steward_target(
    same: Mapping[RecordKey, DecisionInfo], owners: Mapping[RecordKey, str], current: str | None
) -> tuple[str, RecordKey] | None:
    """The customer a "same" ruling places the record in (its current one when a ruling agrees), with the partner."""
    placed = [(owners[partner], partner) for partner in same if partner in owners]
    if not placed:
        return None
    for customer_id, partner in placed:
        if customer_id == current:
            return customer_id, partner
    return min(placed, key=lambda item: (-same[item[1]].decided_at.timestamp(), item[0]))


def _sure_candidate(
    candidates: Sequence[Candidate], hits: Sequence[ScoredHit], probe: MatchRecord
) -> tuple[Candidate | None, frozenset[str]]:
    """The best indexed candidate if it clears the link threshold and none of its found records conflicts.

    The conflict guard is the bulk run's (`conflicting`): a record whose name disagrees with
    a found record of the customer and shares no identifier with it is not linked on the
    strength of another of its records; the pair goes to review instead. Also returns the
    customers held back by that guard.
    """
    conflicted = frozenset(
        hit.customer_id for hit in hits if hit.customer_id is not None and conflicting(probe, hit.record)
    )
    for candidate in candidates:
        if candidate.decision is not Decision.LINK:
            break
        if candidate.customer_id is None:
            continue  # not in the index yet: its own match will find this record
        if candidate.customer_id in conflicted:
            break
        return candidate, conflicted
    return None, conflicted
