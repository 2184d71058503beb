"""Preemptive search (seed 001, "search before you create"): which existing customers a probe may be.

Candidates are found live through every connector's `search`, never from a copy of the
customer data: the index only says which golden customer a hit belongs to. Each hit is
scored against the probe with the same Fellegi-Sunter model as the bulk run, on its
configured priors (one probe is not a sample EM could learn from), so a tool sees the
same evidence a steward would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from connectors import Address, Connector, ConnectorError, SourceRecord, SystemName
from xref._errors import XrefError
from xref._match_types import MatchRecord, ScoredPair
from xref._score_thresholds import Decision, MatchThresholds
from xref._service import XrefService
from xref.engine import EngineSettings
from xref.fellegi_sunter import FellegiSunterModel
from xref.normalize import DEFAULT_REGION, normalize_record

__all__ = [
    "MAX_CANDIDATES",
    "Candidate",
    "CandidateSearch",
    "ScoredHit",
    "find_candidates",
    "group_candidates",
    "probe_record",
    "score_hits",
    "search_sources",
]

log = logging.getLogger("c360.xref")

RecordKey = tuple[SystemName, str]

#: The most candidates one search returns: a longer list is a sign the probe says too little.
MAX_CANDIDATES: Final = 100
#: The probe is nobody's record; it borrows a system only because a MatchRecord needs one.
_PROBE_ID: Final = "probe"
#: Stronger decisions first when two hits of one customer are compared.
_DECISION_RANK: Final[Mapping[Decision, int]] = {Decision.LINK: 2, Decision.REVIEW: 1, Decision.REJECT: 0}


@dataclass(frozen=True, slots=True)
class ScoredHit:
    """One record a system found, with its score against the probe and the golden id it is linked to."""

    record: MatchRecord
    pair: ScoredPair
    decision: Decision
    customer_id: str | None

    @property
    def key(self) -> RecordKey:
        return self.record.key


@dataclass(frozen=True, slots=True)
class Candidate:
    """An existing customer the probe may be (or a found record not in the index yet: `customer_id` None).

    `score`, `decision` and `evidence` are those of the customer's best-matching record;
    `records` are all of its records the systems found, best first.
    """

    customer_id: str | None
    score: float
    confidence: float
    decision: Decision
    #: attribute -> {"level": ..., "weight": ...}; the weights sum to `score`.
    evidence: Mapping[str, Mapping[str, float | str]]
    records: tuple[RecordKey, ...]
    #: The record `score` and `evidence` come from.
    best: RecordKey


@dataclass(frozen=True, slots=True)
class CandidateSearch:
    """Ranked candidates, and the systems that could not be searched (system -> why)."""

    candidates: tuple[Candidate, ...]
    unavailable: Mapping[SystemName, str] = field(default_factory=dict)


async def search_sources(
    connectors: Mapping[SystemName, Connector],
    *,
    name: str | None,
    email: str | None,
    phone: str | None,
) -> tuple[list[SourceRecord], dict[SystemName, str]]:
    """Ask every system at once; a system that fails is left out and named, so the others still answer.

    Only connector errors are forgiven: they are the sources' ordinary failures. Anything
    else is a bug and propagates.
    """
    systems = list(connectors)

    async def one(system: SystemName) -> list[SourceRecord] | ConnectorError:
        try:
            return await connectors[system].search(name=name, email=email, phone=phone)
        except ConnectorError as exc:
            log.warning("candidate search failed in one system", extra={"system": system.value, "error": type(exc).__name__})
            return exc

    answers = await asyncio.gather(*(one(system) for system in systems))
    found: dict[RecordKey, SourceRecord] = {}
    unavailable: dict[SystemName, str] = {}
    for system, answer in zip(systems, answers, strict=True):
        if isinstance(answer, ConnectorError):
            unavailable[system] = f"{type(answer).__name__}: {answer.message}"
            continue
        for record in answer:
            found.setdefault(record.key, record)
    return list(found.values()), unavailable


def group_candidates(hits: Sequence[ScoredHit], model: FellegiSunterModel) -> list[Candidate]:
    """One candidate per golden customer (and one per unindexed hit), best first.

    A customer counts by its best record: two weak hits of one customer do not add up to a
    strong one, since they are the same evidence seen twice.
    """
    groups: dict[str | RecordKey, list[ScoredHit]] = {}
    for hit in hits:
        groups.setdefault(hit.customer_id if hit.customer_id is not None else hit.key, []).append(hit)
    candidates: list[Candidate] = []
    for members in groups.values():
        members.sort(key=lambda h: (-_DECISION_RANK[h.decision], -h.pair.score, h.key))
        best = members[0]
        candidates.append(
            Candidate(
                customer_id=best.customer_id,
                score=round(best.pair.score, 3),
                confidence=round(model.confidence(best.pair.score), 4),
                decision=best.decision,
                evidence=best.pair.explain(),
                records=tuple(h.key for h in members),
                best=best.key,
            )
        )
    candidates.sort(key=lambda c: (-_DECISION_RANK[c.decision], -c.score, c.customer_id or "", c.best))
    return candidates


def _clean(value: str | None) -> str | None:
    return value.strip() if value is not None and value.strip() else None


def probe_record(
    *,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    address: Address | None = None,
    website: str | None = None,
) -> SourceRecord:
    """The search input as a record, so it is normalized exactly like the records it is compared with."""
    return SourceRecord(
        system=SystemName.SHAREPOINT,
        id=_PROBE_ID,
        name=name,
        email=email,
        phone=phone,
        address=address if address is not None and not address.is_empty() else None,
        website=website,
    )


def score_hits(
    probe: MatchRecord,
    found: Sequence[SourceRecord],
    owners: Mapping[RecordKey, str],
    model: FellegiSunterModel,
    decide: Callable[[float, SystemName], Decision],
    region: str,
) -> list[ScoredHit]:
    """Normalize and score every found record against the normalized probe (index 0)."""
    hits: list[ScoredHit] = []
    for position, record in enumerate(found, start=1):
        normalized = normalize_record(record, position, region=region)
        pair = model.score(probe, normalized)
        hits.append(ScoredHit(normalized, pair, decide(pair.score, normalized.system), owners.get(record.key)))
    return hits


async def find_candidates(
    connectors: Mapping[SystemName, Connector],
    xref: XrefService,
    *,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    address: Address | None = None,
    website: str | None = None,
    region: str = DEFAULT_REGION,
    settings: EngineSettings | None = None,
    limit: int = 10,
) -> CandidateSearch:
    """The existing customers the given values may belong to, best first, with score and evidence.

    Systems are searched by name, email and phone (what every connector can search on);
    address and website only sharpen the scores. Decisions use the global thresholds: a
    probe comes from no system, so per-system-pair overrides do not apply.
    """
    name, email, phone, website = _clean(name), _clean(email), _clean(phone), _clean(website)
    if name is None and email is None and phone is None:
        raise XrefError("a candidate search needs at least one of name, email or phone")
    if not 1 <= limit <= MAX_CANDIDATES:
        raise XrefError(f"limit must be between 1 and {MAX_CANDIDATES}, not {limit}")
    thresholds: MatchThresholds = (settings or EngineSettings()).thresholds

    found, unavailable = await search_sources(connectors, name=name, email=email, phone=phone)
    owners = await xref.customers_for([record.key for record in found]) if found else {}
    probe = normalize_record(
        probe_record(name=name, email=email, phone=phone, address=address, website=website), 0, region=region
    )
    model = FellegiSunterModel()

    def decide(score: float, system: SystemName) -> Decision:
        if score >= thresholds.link:
            return Decision.LINK
        return Decision.REVIEW if score >= thresholds.review else Decision.REJECT

    hits = score_hits(probe, found, owners, model, decide, region)
    return CandidateSearch(candidates=tuple(group_candidates(hits, model)[:limit]), unavailable=unavailable)
