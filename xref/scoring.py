"""Pairwise comparators: each attribute of two normalized records bucketed into an agreement level.

A level is a short string; None means one side lacks the attribute, which the model reads
as "no evidence" (weight 0), not as disagreement. Level sets stay small (2-5 levels) so that
EM on unlabeled pairs has few parameters per attribute and stays well determined.

Comparators work on `RecordFeatures`, a per-record precomputation (local part, last seven
phone digits, ZIP prefix, house number...) built once per run, so that scoring a million
pairs does no string slicing per pair. The `compare_*` functions taking two `MatchRecord`s
are the readable entry points; `level_vector` is what the model uses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler

from xref._match_types import MatchRecord, PartyKind

__all__ = [
    "ATTRIBUTES",
    "DISCOUNTED",
    "LEVELS",
    "LevelVector",
    "RecordFeatures",
    "ValueFrequencies",
    "compare_address",
    "compare_city",
    "compare_company_names",
    "compare_domain",
    "compare_email",
    "compare_name",
    "compare_person_names",
    "compare_phone",
    "compare_postal",
    "discount_value",
    "level_vector",
]

#: Attribute order of a level vector and of a pair's evidence.
ATTRIBUTES: Final = ("name", "email", "phone", "address", "postal", "city", "domain")

#: Levels per attribute, strongest agreement first (the model's m/u tables use these keys).
LEVELS: Final[Mapping[str, tuple[str, ...]]] = {
    "name": ("exact", "high", "medium", "low", "disagree"),
    "email": ("exact", "local", "domain", "disagree"),
    "phone": ("exact", "last7", "disagree"),
    "address": ("exact", "high", "unit_conflict", "disagree"),
    "postal": ("exact", "prefix3", "disagree"),
    "city": ("exact", "state", "disagree"),
    "domain": ("exact", "disagree"),
}

LevelVector = tuple[str | None, ...]

# token_set_ratio (0-100) cut points for company names; 100 without equality means one name's
# tokens are a subset of the other's ("acme" / "acme plumbing"), hence "high", not "exact".
_NAME_HIGH: Final = 90.0
_NAME_MEDIUM: Final = 75.0
_NAME_LOW: Final = 55.0
# Jaro-Winkler (0-1) cut points for person name parts.
_JW_SAME: Final = 0.88
_JW_GIVEN: Final = 0.88
_JW_LOW: Final = 0.80
# fuzz.ratio on normalized streets; above this a difference is a typo, not another street.
_STREET_HIGH: Final = 88.0


@dataclass(frozen=True, slots=True)
class RecordFeatures:
    """What the comparators read of one record, derived once per run."""

    name: str | None
    #: The name without spaces: "jeansframe works" and "jeans frame works" are one name.
    name_compact: str | None
    #: "given family" when both parts are known: persons are then compared part by part.
    person: tuple[str, str] | None
    email: str | None
    email_local: str | None
    email_domain: str | None
    phone: str | None
    phone7: str | None
    street: str | None
    house: str | None
    unit: str | None
    city: str | None
    state: str | None
    postal: str | None
    postal3: str | None
    website: str | None

    @classmethod
    def of(cls, r: MatchRecord) -> RecordFeatures:
        person = None
        if r.given and r.family and r.kind is not PartyKind.COMPANY:
            person = (r.given.rstrip("."), r.family)
        local = (r.email.rpartition("@")[0] or None) if r.email else None
        street = r.street or None
        house = None
        if street:
            first = street.split(" ", 1)[0]
            house = first if first[:1].isdigit() else None
        return cls(
            name=r.name or None,
            name_compact=r.name.replace(" ", "") if r.name else None,
            person=person,
            email=r.email or None,
            email_local=local,
            email_domain=r.email_domain or None,
            phone=r.phone or None,
            phone7=r.phone[-7:] if r.phone and len(r.phone) >= 7 else None,
            street=street,
            house=house,
            unit=r.unit or None,
            city=r.city or None,
            state=r.state or None,
            postal=r.postal or None,
            postal3=r.postal[:3] if r.postal and len(r.postal) >= 3 else None,
            website=r.website_domain or None,
        )


# -- names ------------------------------------------------------------------------------------


def compare_company_names(a: str, b: str) -> str:
    """Token-set similarity, so word order and an extra word ("acme" / "acme plumbing") matter little."""
    if a == b:
        return "exact"
    score = fuzz.token_set_ratio(a, b, score_cutoff=_NAME_LOW)
    if score >= _NAME_HIGH:
        return "high"
    if score >= _NAME_MEDIUM:
        return "medium"
    if score >= _NAME_LOW:
        return "low"
    return "disagree"


def _given_similarity(a: str, b: str) -> float:
    # An initial ("j") agrees with any given name starting with it, and says nothing more.
    if len(a) == 1 or len(b) == 1:
        return 1.0 if a[:1] == b[:1] else 0.0
    return JaroWinkler.similarity(a, b)


_PERSON_RANK: Final = {"exact": 0, "high": 1, "medium": 2, "low": 3, "disagree": 4}


def _person_level(given_a: str, family_a: str, given_b: str, family_b: str) -> str:
    if family_a == family_b and given_a == given_b:
        return "exact"
    family = 1.0 if family_a == family_b else JaroWinkler.similarity(family_a, family_b)
    given = _given_similarity(given_a, given_b)
    if family >= _JW_SAME:
        if given >= _JW_GIVEN:
            return "high"
        return "medium"  # same family, another given name: relatives, or one of many Smiths
    if family >= _JW_LOW and given >= _JW_GIVEN:
        return "low"
    return "disagree"


def compare_person_names(given_a: str, family_a: str, given_b: str, family_b: str) -> str:
    """Jaro-Winkler on family and given names, also tried with one side's parts swapped.

    Swapping covers a system that stores "Smith John" as given "Smith", family "John".
    """
    straight = _person_level(given_a, family_a, given_b, family_b)
    if straight == "exact":
        return straight
    swapped = _person_level(given_a, family_a, family_b, given_b)
    return swapped if _PERSON_RANK[swapped] < _PERSON_RANK[straight] else straight


def _name_level(a: RecordFeatures, b: RecordFeatures) -> str | None:
    if a.person is not None and b.person is not None:
        return compare_person_names(a.person[0], a.person[1], b.person[0], b.person[1])
    if a.name is None or b.name is None:
        return None
    if a.name != b.name and a.name_compact == b.name_compact:
        return "high"
    return compare_company_names(a.name, b.name)


# -- contact attributes -----------------------------------------------------------------------


def _email_level(a: RecordFeatures, b: RecordFeatures) -> str | None:
    if a.email is None or b.email is None:
        return None
    if a.email == b.email:
        return "exact"
    if a.email_local is not None and a.email_local == b.email_local:
        return "local"
    # email_domain is None for free mail, so this is a company domain shared by two people.
    if a.email_domain is not None and a.email_domain == b.email_domain:
        return "domain"
    return "disagree"


def _phone_level(a: RecordFeatures, b: RecordFeatures) -> str | None:
    if a.phone is None or b.phone is None:
        return None
    if a.phone == b.phone:
        return "exact"
    if a.phone7 is not None and a.phone7 == b.phone7:
        return "last7"  # same line, area code mistyped or changed
    return "disagree"


def _address_level(a: RecordFeatures, b: RecordFeatures) -> str | None:
    if a.street is None or b.street is None:
        return None
    # "12 ocean dr" and "14 ocean dr" are one edit apart but different buildings.
    if a.house is not None and b.house is not None and a.house != b.house:
        return "disagree"
    if a.street != b.street and fuzz.ratio(a.street, b.street, score_cutoff=_STREET_HIGH) < _STREET_HIGH:
        return "disagree"
    if a.unit is not None and b.unit is not None and a.unit != b.unit:
        return "unit_conflict"  # same building, another suite: often another company
    if a.street == b.street and a.unit == b.unit:
        return "exact"
    return "high"


def _postal_level(a: RecordFeatures, b: RecordFeatures) -> str | None:
    if a.postal is None or b.postal is None:
        return None
    if a.postal == b.postal:
        return "exact"
    if a.postal3 is not None and a.postal3 == b.postal3:
        return "prefix3"
    return "disagree"


def _city_level(a: RecordFeatures, b: RecordFeatures) -> str | None:
    states_known = a.state is not None and b.state is not None
    if a.city is not None and b.city is not None:
        if a.city == b.city and (not states_known or a.state == b.state):
            return "exact"
        if states_known and a.state == b.state:
            return "state"
        return "disagree"  # includes Springfield, IL vs Springfield, MO
    if states_known:
        return "state" if a.state == b.state else "disagree"
    return None


def _company_domain(a: RecordFeatures, b: RecordFeatures) -> tuple[str, str] | None:
    # Two email domains are already the email comparator's "domain" level: counting them
    # here too would weigh one fact twice, so only a website takes part.
    if a.website is not None:
        if b.website is not None:
            return a.website, b.website
        if b.email_domain is not None:
            return a.website, b.email_domain
        return None
    if b.website is not None and a.email_domain is not None:
        return a.email_domain, b.website
    return None


def _domain_level(a: RecordFeatures, b: RecordFeatures) -> str | None:
    pair = _company_domain(a, b)
    if pair is None:
        return None
    return "exact" if pair[0] == pair[1] else "disagree"


def level_vector(a: RecordFeatures, b: RecordFeatures) -> LevelVector:
    """Every attribute's level, in `ATTRIBUTES` order (None: missing on a side)."""
    return (
        _name_level(a, b),
        _email_level(a, b),
        _phone_level(a, b),
        _address_level(a, b),
        _postal_level(a, b),
        _city_level(a, b),
        _domain_level(a, b),
    )


def compare_name(a: MatchRecord, b: MatchRecord) -> str | None:
    """Person parts when both records have given and family names, else company token-set similarity."""
    return _name_level(RecordFeatures.of(a), RecordFeatures.of(b))


def compare_email(a: MatchRecord, b: MatchRecord) -> str | None:
    """exact / local (same local part, other domain) / domain (same company domain) / disagree."""
    return _email_level(RecordFeatures.of(a), RecordFeatures.of(b))


def compare_phone(a: MatchRecord, b: MatchRecord) -> str | None:
    """exact (E.164) / last7 / disagree."""
    return _phone_level(RecordFeatures.of(a), RecordFeatures.of(b))


def compare_address(a: MatchRecord, b: MatchRecord) -> str | None:
    """exact / high (typo, or a unit on one side only) / unit_conflict / disagree (incl. another house number)."""
    return _address_level(RecordFeatures.of(a), RecordFeatures.of(b))


def compare_postal(a: MatchRecord, b: MatchRecord) -> str | None:
    """exact / prefix3 (same 3-digit area) / disagree."""
    return _postal_level(RecordFeatures.of(a), RecordFeatures.of(b))


def compare_city(a: MatchRecord, b: MatchRecord) -> str | None:
    """exact (city, and state where both have one) / state (same state only) / disagree."""
    return _city_level(RecordFeatures.of(a), RecordFeatures.of(b))


def compare_domain(a: MatchRecord, b: MatchRecord) -> str | None:
    """Website against website, or against the other side's company email domain: exact / disagree."""
    return _domain_level(RecordFeatures.of(a), RecordFeatures.of(b))


# -- value frequencies ------------------------------------------------------------------------

#: (attribute, level) whose weight is discounted by how common the agreeing value is.
DISCOUNTED: Final = frozenset(
    {
        ("name", "exact"),
        ("email", "exact"),
        ("email", "local"),
        ("email", "domain"),
        ("phone", "exact"),
        ("postal", "exact"),
        ("domain", "exact"),
    }
)


def discount_value(attribute: str, level: str, a: RecordFeatures, b: RecordFeatures) -> tuple[str, str] | None:
    """The (counter, value) two records agreed on for a discounted level, else None."""
    if (attribute, level) not in DISCOUNTED:
        return None
    if attribute == "name":
        if a.person is not None and b.person is not None:
            return "name", f"{a.person[0]} {a.person[1]}"
        return ("name", a.name) if a.name is not None else None
    if attribute == "email":
        if level == "exact":
            return ("email", a.email) if a.email else None
        if level == "local":
            return ("email_local", a.email_local) if a.email_local else None
        return ("domain", a.email_domain) if a.email_domain else None
    if attribute == "phone":
        return ("phone", a.phone) if a.phone else None
    if attribute == "postal":
        return ("postal", a.postal) if a.postal else None
    pair = _company_domain(a, b)
    return ("domain", pair[0]) if pair is not None else None


#: Records one customer may hold a value in: one per system plus a duplicate.
ONE_CUSTOMER_COPIES = 4


@dataclass(frozen=True, slots=True)
class ValueFrequencies:
    """How many of the run's records hold each value, so a common agreement can weigh less.

    Built once from all records of a run. `share(counter, value)` estimates the chance that
    a random other record holds the same value, which bounds u from below for that value.
    """

    total: int
    counts: Mapping[str, Mapping[str, int]]

    @classmethod
    def from_records(cls, records: Iterable[MatchRecord]) -> ValueFrequencies:
        counters: dict[str, Counter[str]] = {
            k: Counter() for k in ("name", "email", "email_local", "phone", "postal", "domain")
        }
        total = 0
        for record in records:
            total += 1
            f = RecordFeatures.of(record)
            names = {f.name} if f.name else set()
            if f.person is not None:
                names.add(f"{f.person[0]} {f.person[1]}")
            counters["name"].update(names)
            domains = {d for d in (f.email_domain, f.website) if d}
            counters["domain"].update(domains)
            for key, value in (("email", f.email), ("email_local", f.email_local), ("phone", f.phone),
                               ("postal", f.postal)):
                if value:
                    counters[key][value] += 1
        return cls(total=total, counts={k: dict(v) for k, v in counters.items()})

    def share(self, counter: str, value: str) -> float:
        """Fraction of records holding `value` beyond what one customer would hold (0 when unknown).

        One customer is seen in each system and sometimes twice in one, so a value held by up
        to `ONE_CUSTOMER_COPIES` records says nothing about being common; only the excess
        does. Without this, every value of a small run would look common.
        """
        if self.total == 0:
            return 0.0
        excess = self.counts.get(counter, {}).get(value, 0) - ONE_CUSTOMER_COPIES
        return max(0, excess) / self.total
