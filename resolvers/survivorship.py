"""Choose the unified value of each attribute from the records linked to one customer.

The policy is declared per attribute (gateway settings `survivorship`), because who
is right differs by attribute: accounting holds the legal/billing name and address,
the CRM is where sales keeps contact details current. A rule is a strategy plus a
system priority; the priority also breaks every tie, so the choice is deterministic.

`conflicts` compares the linked records' values after the matcher's normalization,
so "Suite 4" vs "Ste. 4" or "(415) 444-6538" vs "+1 415 444 6538" are not reported
as disagreements, only real differences are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final

from connectors import Address, CustomerStatus, SourceRecord, SystemName
from xref.normalize import (
    DEFAULT_REGION,
    normalize_city,
    normalize_company_name,
    normalize_email_address,
    normalize_phone,
    normalize_postal_code,
    normalize_state,
    normalize_street,
    website_domain,
)

#: Accounting holds the billing identity; the CRM holds leads; projects come last.
DEFAULT_PRIORITY: Sequence[SystemName] = (SystemName.QUICKBOOKS, SystemName.SHAREPOINT, SystemName.TEAMWORK)
#: Sales keeps contact details current in the CRM; accounting's are often a billing inbox.
CONTACT_PRIORITY: Sequence[SystemName] = (SystemName.SHAREPOINT, SystemName.QUICKBOOKS, SystemName.TEAMWORK)
#: The unified attributes a policy can govern (and `conflicts` compares).
ATTRIBUTES: Final = ("name", "email", "phone", "address", "website")


class Strategy(StrEnum):
    """How a rule picks among the non-empty values of the linked records."""

    #: The first system in `priority` that has a value wins.
    SOURCE_PRIORITY = "source_priority"
    #: The most recently updated record that has a value wins (priority breaks ties and missing dates).
    MOST_RECENT = "most_recent"
    #: The fullest value wins: an address with the most non-empty parts, else the longest text.
    MOST_COMPLETE = "most_complete"


@dataclass(frozen=True)
class Rule:
    strategy: Strategy = Strategy.SOURCE_PRIORITY
    priority: tuple[SystemName, ...] = tuple(DEFAULT_PRIORITY)


@dataclass(frozen=True)
class Policy:
    """A rule per attribute; attributes without one use `default`."""

    rules: Mapping[str, Rule] = field(default_factory=dict)
    default: Rule = Rule()

    def rule(self, attribute: str) -> Rule:
        return self.rules.get(attribute, self.default)


DEFAULT_RULES: Final[Mapping[str, Rule]] = {
    "name": Rule(Strategy.SOURCE_PRIORITY, tuple(DEFAULT_PRIORITY)),
    "address": Rule(Strategy.SOURCE_PRIORITY, tuple(DEFAULT_PRIORITY)),
    "email": Rule(Strategy.SOURCE_PRIORITY, tuple(CONTACT_PRIORITY)),
    "phone": Rule(Strategy.SOURCE_PRIORITY, tuple(CONTACT_PRIORITY)),
    "website": Rule(Strategy.SOURCE_PRIORITY, (SystemName.TEAMWORK, SystemName.QUICKBOOKS, SystemName.SHAREPOINT)),
}
DEFAULT_POLICY: Final = Policy(rules=DEFAULT_RULES)


@dataclass(frozen=True)
class Choice:
    """The value that won, and the record it came from."""

    record: SourceRecord
    value: Any


def ordered(records: Mapping[SystemName, Sequence[SourceRecord]], priority: Sequence[SystemName]) -> list[SourceRecord]:
    """All records, highest-priority system first; within a system the most recently updated first."""
    result: list[SourceRecord] = []
    for system in [*priority, *(s for s in records if s not in priority)]:
        result.extend(sorted(records.get(system, ()), key=_recency, reverse=True))
    return result


def _recency(record: SourceRecord) -> float:
    return record.updated_at.timestamp() if record.updated_at else 0.0


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, Address):
        return not value.is_empty()
    return True


def completeness(value: Any) -> int:
    """How full a value is: an address counts its non-empty parts, text its length without spaces."""
    if isinstance(value, Address):
        parts = (value.line1, value.line2, value.city, value.state, value.postal_code, value.country)
        return sum(1 for p in parts if p and p.strip())
    if isinstance(value, str):
        return len(value.strip())
    return 1 if value is not None else 0


def choose(records: Mapping[SystemName, Sequence[SourceRecord]], attribute: str, rule: Rule) -> Choice | None:
    """The winning value of `attribute` under `rule`; None when no record has one."""
    candidates = [
        (rank, record, value)
        for rank, record in enumerate(ordered(records, rule.priority))
        if _present(value := getattr(record, attribute))
    ]
    if not candidates:
        return None
    if rule.strategy == Strategy.MOST_RECENT:
        # max() keeps the first of equals, and candidates are in priority order: priority breaks ties.
        _, record, value = max(candidates, key=lambda c: _recency(c[1]))
    elif rule.strategy == Strategy.MOST_COMPLETE:
        _, record, value = max(candidates, key=lambda c: completeness(c[2]))
    else:
        _, record, value = candidates[0]
    return Choice(record=record, value=value)


def unified(records: Mapping[SystemName, Sequence[SourceRecord]], attribute: str, policy: Policy) -> Any:
    choice = choose(records, attribute, policy.rule(attribute))
    return choice.value if choice is not None else None


# --- conflicts ------------------------------------------------------------------------------


def _norm_address(value: Address) -> tuple[str | None, ...]:
    street, unit = normalize_street(value.line1, value.line2)
    state = normalize_state(value.state)
    return (
        street,
        unit,
        normalize_city(value.city),
        state,
        normalize_postal_code(value.postal_code, state, value.country),
    )


def normalizer(attribute: str, region: str = DEFAULT_REGION) -> Callable[[Any], Any]:
    """The comparison form of an attribute's value (the matcher's normalization).

    A value the normalizer cannot read (an invalid phone, say) is compared by its
    case-folded text, so two different unreadable values still count as a disagreement.
    Addresses are compared without the country: not every system holds one.
    """
    def norm(value: Any) -> Any:
        try:
            return _normalized(attribute, region, value)
        except TypeError:  # an unhashable value: not memoized
            return _normalized.__wrapped__(attribute, region, value)

    return norm


_TEXT_NORMALIZERS: Final[Mapping[str, Callable[[str, str], str | None]]] = {
    "name": lambda v, _region: normalize_company_name(v),
    "email": lambda v, _region: normalize_email_address(v),
    "phone": normalize_phone,
    "website": lambda v, _region: website_domain(v),
}


@lru_cache(maxsize=16384)
def _normalized(attribute: str, region: str, value: Any) -> Any:
    """Memoized: every page view compares the same values again, and the matcher's normalizers
    (name analysis above all) cost far more than a lookup. Bounded, in memory only."""
    if isinstance(value, Address):
        return _norm_address(value)
    raw = str(value).strip()
    fn = _TEXT_NORMALIZERS.get(attribute)
    return (fn(raw, region) if fn else None) or raw.casefold()


@dataclass(frozen=True)
class ConflictValue:
    system: SystemName
    record_id: str
    value: Any


@dataclass(frozen=True)
class Conflict:
    """An attribute on which the linked records disagree after normalization."""

    attribute: str
    values: tuple[ConflictValue, ...]
    winner: ConflictValue | None


def conflicts(
    records: Mapping[SystemName, Sequence[SourceRecord]],
    policy: Policy,
    *,
    attributes: Sequence[str] = ATTRIBUTES,
    region: str = DEFAULT_REGION,
) -> list[Conflict]:
    """Every attribute whose non-empty values differ once normalized, with all values and the winner.

    A record without a value does not disagree: missing data is a gap, not a conflict.
    """
    found: list[Conflict] = []
    for attribute in attributes:
        rule = policy.rule(attribute)
        norm = normalizer(attribute, region)
        values = [
            ConflictValue(record.system, record.id, value)
            for record in ordered(records, rule.priority)
            if _present(value := getattr(record, attribute))
        ]
        if len({_hashable(norm(v.value)) for v in values}) < 2:
            continue
        choice = choose(records, attribute, rule)
        winner = (
            next((v for v in values if (v.system, v.record_id) == choice.record.key), None) if choice else None
        )
        found.append(Conflict(attribute=attribute, values=tuple(values), winner=winner))
    return found


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


# --- lifecycle ------------------------------------------------------------------------------

#: Systems whose status decides the lifecycle; if one of them is down the lifecycle is unknown.
LIFECYCLE_SYSTEMS: Final = (SystemName.QUICKBOOKS, SystemName.SHAREPOINT)


def lifecycle(records: Mapping[SystemName, Sequence[SourceRecord]]) -> CustomerStatus | None:
    """lead -> active -> inactive: billing activity decides, then the CRM status."""
    statuses = [r.status for rs in records.values() for r in rs if r.status is not None]
    billing = [r.status for r in records.get(SystemName.QUICKBOOKS, ()) if r.status is not None]
    if CustomerStatus.ACTIVE in billing:
        return CustomerStatus.ACTIVE
    if billing and all(s == CustomerStatus.INACTIVE for s in billing):
        return CustomerStatus.INACTIVE
    if CustomerStatus.ACTIVE in statuses:
        return CustomerStatus.ACTIVE
    if CustomerStatus.LEAD in statuses:
        return CustomerStatus.LEAD
    if CustomerStatus.INACTIVE in statuses:
        return CustomerStatus.INACTIVE
    return None
