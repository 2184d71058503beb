"""`matchCandidates`: the preemptive search of seed 001, so a tool can check before it creates a record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final

import strawberry

from connectors import Address as AddressRecord
from connectors import SystemName
from resolvers.errors import bad_input
from resolvers.types import Customer, Info, MatchEvidence, System, match_evidence
from xref import Candidate, LinkInfo, XrefError, find_candidates
from xref.fellegi_sunter import Decision

__all__ = [
    "AddressInput",
    "CandidateQuery",
    "MatchCandidate",
    "MatchCandidates",
    "MatchDecision",
    "MatchedRecord",
    "UnavailableSystem",
    "candidate_from_json",
    "candidate_to_json",
    "graphql_candidates",
    "unavailable_systems",
]

#: More candidates than this are noise: a probe that vague should say more.
MAX_FIRST: Final = 50

MatchDecision = strawberry.enum(
    Decision, name="MatchDecision", description="What the matcher would do with a pair scoring this high."
)


@strawberry.input(description="A postal address to compare with the candidates' addresses.")
class AddressInput:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None

    def to_record(self) -> AddressRecord:
        return AddressRecord(
            line1=self.line1, line2=self.line2, city=self.city, state=self.state,
            postal_code=self.postal_code, country=self.country,
        )


@strawberry.type(description="A source record a system found for the search.")
class MatchedRecord:
    system: System  # type: ignore[valid-type]
    id: strawberry.ID
    url: str | None = strawberry.field(description="Opens the record in that system's own UI.")


@strawberry.type(description="An existing customer the searched values may belong to.")
class MatchCandidate:
    customer: Customer | None = strawberry.field(
        description="The golden customer; null when the record found is not in the index yet."
    )
    score: float = strawberry.field(description="Sum of the evidence weights (log2 likelihood ratio).")
    confidence: float = strawberry.field(description="Probability (0-1) that it is the same customer.")
    decision: MatchDecision  # type: ignore[valid-type]
    evidence: list[MatchEvidence] = strawberry.field(description="Per attribute, of the best-matching record.")
    records: list[MatchedRecord] = strawberry.field(description="The customer's records the systems found, best first.")


@strawberry.type(description="A system that could not be searched; its records are missing from the candidates.")
class UnavailableSystem:
    system: System  # type: ignore[valid-type]
    reason: str


@strawberry.type(description="Ranked candidates, best first, and the systems that could not be searched.")
class MatchCandidates:
    candidates: list[MatchCandidate]
    unavailable: list[UnavailableSystem]


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _to_graphql(info: Info, found: Candidate, links: Mapping[str, list[LinkInfo]]) -> MatchCandidate:
    connectors = info.context.services.connectors
    customer = None
    if found.customer_id is not None:
        customer = Customer(id=strawberry.ID(found.customer_id), links=list(links.get(found.customer_id, [])))
    return MatchCandidate(
        customer=customer,
        score=found.score,
        confidence=found.confidence,
        decision=found.decision,
        evidence=match_evidence(found.evidence),
        records=[
            MatchedRecord(
                system=system,
                id=strawberry.ID(record_id),
                url=connectors[system].record_url(record_id) if system in connectors else None,
            )
            for system, record_id in found.records
        ],
    )


async def graphql_candidates(info: Info, found: Sequence[Candidate]) -> list[MatchCandidate]:
    """The candidates as GraphQL, their customers' links loaded in one batch through the request's loader."""
    ids = list(dict.fromkeys(c.customer_id for c in found if c.customer_id is not None))
    links = dict(zip(ids, await info.context.links.load_many(ids), strict=True))
    return [_to_graphql(info, candidate, links) for candidate in found]


def unavailable_systems(unavailable: Mapping[SystemName, str] | Mapping[str, str]) -> list[UnavailableSystem]:
    """The systems a search could not reach (keys: system names), in name order."""
    return [UnavailableSystem(system=SystemName(system), reason=reason) for system, reason in sorted(unavailable.items())]


def candidate_to_json(found: Candidate) -> dict[str, Any]:
    """A candidate in JSON form, so a mutation answer holding candidates can be stored and replayed."""
    return {
        "customerId": found.customer_id, "score": found.score, "confidence": found.confidence,
        "decision": found.decision.value, "evidence": {k: dict(v) for k, v in found.evidence.items()},
        "records": [[system.value, record_id] for system, record_id in found.records],
        "best": [found.best[0].value, found.best[1]],
    }


def candidate_from_json(data: Mapping[str, Any]) -> Candidate:
    return Candidate(
        customer_id=data["customerId"], score=float(data["score"]), confidence=float(data["confidence"]),
        decision=Decision(data["decision"]), evidence=data["evidence"],
        records=tuple((SystemName(system), str(record_id)) for system, record_id in data["records"]),
        best=(SystemName(data["best"][0]), str(data["best"][1])),
    )


@strawberry.type
class CandidateQuery:
    @strawberry.field(
        description="Existing customers that name, email, phone (and address) may belong to, best first. "
        "Searched live in every system; check this before creating a customer."
    )
    async def match_candidates(
        self,
        info: Info,
        name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        address: AddressInput | None = None,
        first: Annotated[int, strawberry.argument(description=f"At most this many candidates (1-{MAX_FIRST}).")] = 10,
    ) -> MatchCandidates:
        if _blank(name) and _blank(email) and _blank(phone):
            raise bad_input("give at least one of `name`, `email` or `phone`", "name")
        if not 1 <= first <= MAX_FIRST:
            raise bad_input(f"`first` must be between 1 and {MAX_FIRST}, got {first}", "first")
        services = info.context.services
        try:
            search = await find_candidates(
                services.connectors,
                services.xref,
                name=name,
                email=email,
                phone=phone,
                address=address.to_record() if address is not None else None,
                region=services.phone_region,
                settings=services.engine_settings,
                limit=first,
            )
        except XrefError as exc:
            raise bad_input(str(exc), "name") from exc
        return MatchCandidates(
            candidates=await graphql_candidates(info, search.candidates),
            unavailable=unavailable_systems(search.unavailable),
        )
