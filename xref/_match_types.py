"""The shapes the matching engine's stages hand to each other (normalize -> block -> score -> cluster).

Everything here lives only in memory during a run: normalized values are compared, never
stored. What the index keeps of a decision is its evidence (attribute, level, weight) and a
fingerprint hash of the compared values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from connectors import SystemName


class PartyKind(StrEnum):
    COMPANY = "company"
    PERSON = "person"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """One source record, normalized for comparison; `index` is its position in the run."""

    index: int
    system: SystemName
    record_id: str
    kind: PartyKind = PartyKind.UNKNOWN
    #: Normalized name: casefolded, punctuation and legal suffixes gone, "&" -> "and", no leading "the".
    name: str | None = None
    #: The name's distinct tokens, sorted (blocking and token-set comparison use them).
    name_tokens: tuple[str, ...] = ()
    #: Person name parts where the system holds them (or where the name is clearly a person's).
    given: str | None = None
    family: str | None = None
    #: Whole address, casefolded; `email_domain` is None for free-mail domains (gmail...): no company signal.
    email: str | None = None
    email_domain: str | None = None
    #: E.164.
    phone: str | None = None
    #: Street line with standard abbreviations ("12 ocean dr"); `unit` is only its identifier ("Suite 4" -> "4").
    street: str | None = None
    unit: str | None = None
    city: str | None = None
    #: Two-letter code.
    state: str | None = None
    #: Five digits for the US; other countries normalized to upper case without spaces.
    postal: str | None = None
    #: Registrable domain of the website ("windsurf.example.com" -> "example.com" is NOT done: host minus "www.").
    website_domain: str | None = None

    @property
    def key(self) -> tuple[SystemName, str]:
        return (self.system, self.record_id)


@dataclass(frozen=True, slots=True)
class Evidence:
    """How one attribute compared: its agreement level and the log-weight it added to the score."""

    attribute: str
    level: str
    weight: float


@dataclass(frozen=True, slots=True)
class ScoredPair:
    """A candidate pair with its total score (the sum of the evidence weights)."""

    left: int
    right: int
    score: float
    evidence: tuple[Evidence, ...] = field(default=())

    def explain(self) -> dict[str, dict[str, float | str]]:
        return {e.attribute: {"level": e.level, "weight": round(e.weight, 3)} for e in self.evidence}
