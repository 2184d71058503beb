"""Real-world customers ("entities"): the truth each system's records are messy copies of.

An entity is drawn once, in canonical form, together with its lifecycle (which
systems know it) and its timeline; the per-system builders then project it
with the mess of `_gen_mess`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from random import Random
from typing import Literal

from sandbox._gen_clock import DAY, Timeline
from sandbox._gen_words import (
    ADJECTIVES,
    CITIES,
    CITY_WEIGHTS,
    COMPANY_TLDS,
    DIRECTIONS,
    FIRST_NAMES,
    GROUP_WORDS,
    INDUSTRIES,
    LAST_NAMES,
    LEGAL_SUFFIXES,
    NATURE,
    PERSONAL_MAIL_DOMAINS,
    PLACES,
    PROFESSIONS,
    ROLE_MAILBOXES,
    BILLING_MAILBOXES,
    STREET_NAMES,
    STREET_TYPES,
    TRADES,
    UNIT_TYPES,
    City,
)

SHAREPOINT = "sharepoint"
TEAMWORK = "teamwork"
QUICKBOOKS = "quickbooks"
SYSTEMS: tuple[str, ...] = (SHAREPOINT, TEAMWORK, QUICKBOOKS)

Kind = Literal["company", "person"]
Lifecycle = Literal["lead", "active", "walkin"]

_SLUG_DROP = re.compile(r"[^a-z0-9]+")
_COMMON_WORDS = frozenset({"the", "and", "co", "of"})


@dataclass(frozen=True, slots=True)
class PostalAddress:
    """A street address in parts, so each system can spell it its own way."""

    number: str
    direction: tuple[str, str] | None  # (full, abbreviation)
    street: str
    street_type: tuple[str, str]
    unit: tuple[str, str] | None
    unit_number: str
    city: str
    state: str
    zip5: str
    zip4: str


@dataclass(frozen=True, slots=True)
class Entity:
    """One real-world customer and the plan of where and when it shows up."""

    entity_id: str
    kind: Kind
    name: str  # company name without legal suffix, or "Given Family"
    legal_suffix: str  # "" when the company has none (and always for persons)
    given: str  # the person, or a company's main contact
    family: str
    email: str
    billing_email: str
    phone: str  # ten digits
    phone_ext: str
    mobile: str
    domain: str  # company web domain; "" for persons
    address: PostalAddress
    old_address: PostalAddress | None  # where it was before a move, if it moved
    lifecycle: Lifecycle
    systems: frozenset[str]
    qb_active: bool
    first_contact: int
    won: int

    @property
    def is_person(self) -> bool:
        return self.kind == "person"

    @property
    def is_former(self) -> bool:
        """A customer that stopped buying: inactive in the books, projects archived."""
        return QUICKBOOKS in self.systems and not self.qb_active

    @property
    def legal_name(self) -> str:
        return f"{self.name} {self.legal_suffix}" if self.legal_suffix else self.name


def _company_name(rng: Random, city: City) -> str:
    pattern = rng.random()
    if pattern < 0.22:
        return f"{rng.choice(FIRST_NAMES)}'s {rng.choice(TRADES)} {rng.choice(PLACES)}"
    if pattern < 0.40:
        return f"{rng.choice(ADJECTIVES)} {rng.choice(NATURE)} {rng.choice(INDUSTRIES)}"
    if pattern < 0.54:
        return f"{rng.choice(LAST_NAMES)} & {rng.choice(LAST_NAMES)} {rng.choice(PROFESSIONS)}"
    if pattern < 0.66:
        return f"{rng.choice(LAST_NAMES)} {rng.choice(INDUSTRIES)} {rng.choice(GROUP_WORDS)}"
    if pattern < 0.76:
        return f"{city.name} {rng.choice(TRADES)} {rng.choice(PLACES)}"
    if pattern < 0.84:
        return f"The {rng.choice(ADJECTIVES)} {rng.choice(NATURE)}"
    if pattern < 0.92:
        letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTW") for _ in range(rng.choice((2, 3, 3))))
        return f"{letters} {rng.choice(INDUSTRIES)}"
    return f"{rng.choice(LAST_NAMES)} {rng.choice(INDUSTRIES)}"


def _domain_slugs(name: str) -> list[str]:
    """Plausible web-domain stems for a company name, best first."""
    words = [w for w in _SLUG_DROP.split(name.lower().replace("'", "")) if w and w not in _COMMON_WORDS]
    joined = "".join(words)
    slugs = [joined] if len(joined) <= 22 else []
    if len(words) > 2:
        slugs += ["".join(w[0] for w in words[:-1]) + words[-1], words[0] + words[-1]]
    return slugs or [joined[:22]]


def _address(rng: Random, city: City) -> PostalAddress:
    unit = rng.choice(UNIT_TYPES) if rng.random() < 0.35 else None
    return PostalAddress(
        number=str(rng.choice((rng.randint(1, 99), rng.randint(100, 999), rng.randint(1000, 9999), rng.randint(10000, 39999)))),
        direction=rng.choice(DIRECTIONS) if rng.random() < 0.08 else None,
        street=rng.choice(STREET_NAMES) if rng.random() < 0.7 else rng.choice(LAST_NAMES),
        street_type=rng.choice(STREET_TYPES),
        unit=unit,
        unit_number=str(rng.choice((rng.randint(1, 20), rng.randint(100, 450)))) if unit else "",
        city=city.name,
        state=city.state,
        zip5=f"{city.zip_prefix}{rng.randint(1, 99):02d}",
        zip4=f"{rng.randint(1, 9999):04d}",
    )


def _phone(rng: Random, city: City) -> str:
    return f"{rng.choice(city.area_codes)}{rng.randint(200, 989)}{rng.randint(0, 9999):04d}"


def _person_mailbox(rng: Random, given: str, family: str) -> str:
    g, f = given.lower(), family.lower().replace("'", "").replace(" ", "")
    return rng.choice((f"{g}.{f}", f"{g[0]}{f}", f"{g}{f}{rng.randint(1, 99)}", f"{f}.{g}", f"{g}_{f}", f"{g}{f[0]}"))


def _plan(rng: Random) -> tuple[Lifecycle, frozenset[str]]:
    r = rng.random()
    if r < 0.25:
        return "lead", frozenset({SHAREPOINT})
    if r < 0.30:
        return "walkin", frozenset({QUICKBOOKS})
    r = rng.random()
    if r < 0.80:
        return "active", frozenset(SYSTEMS)
    if r < 0.88:
        return "active", frozenset({SHAREPOINT, QUICKBOOKS})
    if r < 0.95:
        return "active", frozenset({SHAREPOINT, TEAMWORK})
    return "active", frozenset({TEAMWORK, QUICKBOOKS})


class EntityFactory:
    """Draws entities in order; company names stay unique so one name is one company."""

    def __init__(self, rng: Random, timeline: Timeline, total: int) -> None:
        self._rng = rng
        self._timeline = timeline
        self._total = max(total, 1)
        self._company_names: set[str] = set()
        # Two customers never share a web domain or a personal mailbox, as in real life.
        self._domains: set[str] = set()
        self._mailboxes: set[str] = set()

    def make(self, index: int) -> Entity:
        rng = self._rng
        city = rng.choices(CITIES, CITY_WEIGHTS)[0]
        is_person = rng.random() < 0.20
        given, family = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        lifecycle, systems = _plan(rng)
        if is_person:
            name, suffix, domain = f"{given} {family}", "", ""
            email = self._unique_mailbox(_person_mailbox(rng, given, family), rng.choice(PERSONAL_MAIL_DOMAINS))
            billing = email
        else:
            name = self._unique_company_name(city)
            suffix = rng.choice(LEGAL_SUFFIXES) if rng.random() < 0.6 else ""
            domain = self._unique_domain(name)
            mailbox = rng.choice((given.lower(), f"{given[0]}{family}".lower().replace("'", ""), rng.choice(ROLE_MAILBOXES)))
            email = f"{mailbox}@{domain}"
            billing = f"{rng.choice(BILLING_MAILBOXES)}@{domain}"
        span = self._timeline.as_of - self._timeline.start - 30 * DAY
        # Entities arrive roughly in order, so record ids grow with creation time.
        first_contact = self._timeline.start + int(span * (index + rng.random()) / self._total)
        won = self._timeline.clamp(first_contact + rng.randint(5, 120) * DAY + rng.randint(0, DAY))
        address = _address(rng, city)
        moved = rng.random() < 0.12
        return Entity(
            entity_id=f"E{index + 1:07d}",
            kind="person" if is_person else "company",
            name=name,
            legal_suffix=suffix,
            given=given,
            family=family,
            email=email,
            billing_email=billing,
            phone=_phone(rng, city),
            phone_ext=str(rng.randint(10, 450)) if not is_person and rng.random() < 0.12 else "",
            mobile=_phone(rng, city),
            domain=domain,
            address=address,
            old_address=_address(rng, rng.choices(CITIES, CITY_WEIGHTS)[0] if rng.random() < 0.3 else city) if moved else None,
            lifecycle=lifecycle,
            systems=systems,
            qb_active=QUICKBOOKS in systems and rng.random() >= (0.15 if lifecycle == "walkin" else 0.10),
            first_contact=first_contact,
            won=won,
        )

    def _unique_domain(self, name: str) -> str:
        slugs = _domain_slugs(name)
        for slug in slugs:
            domain = f"{slug}.{self._rng.choice(COMPANY_TLDS)}"
            if domain not in self._domains:
                break
        n = 2
        while domain in self._domains:
            domain, n = f"{slugs[0]}{n}.com", n + 1
        self._domains.add(domain)
        return domain

    def _unique_mailbox(self, local: str, domain: str) -> str:
        email, n = f"{local}@{domain}", 2
        while email in self._mailboxes:
            email, n = f"{local}{n}@{domain}", n + 1
        self._mailboxes.add(email)
        return email

    def _unique_company_name(self, city: City) -> str:
        for _ in range(12):
            name = _company_name(self._rng, city)
            key = name.casefold()
            if key not in self._company_names:
                self._company_names.add(key)
                return name
        # Crowded name space (huge runs): a place name tells two companies apart, as in real life.
        base = f"{name} of {city.name}"
        name, n = base, 2
        while name.casefold() in self._company_names:
            name, n = f"{base} {n}", n + 1
        self._company_names.add(name.casefold())
        return name
