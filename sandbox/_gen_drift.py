"""Known drift: linked records made to disagree in value on purpose, and where (`drift_truth.csv`).

With `generate(..., drift=rate)` the systems' users make only differences of *form*
(`_gen_mess.format_only`: case, spacing, legal-suffix spellings, street abbreviations,
phone formats), which any sound normalization erases. On top of that, with probability
`rate` an entity known to two or more systems that can compare an attribute gets one
record with another *value* of one such attribute (a new trading name, another mailbox,
the old address...), and a row `entity,attribute,system` goes to `drift_truth.csv`. One
attribute per entity at most: a record that differs in several values at once is one a
matcher may rightly not link, and then no reconciliation can see its drift. The truth is
what the generator did, not what a normalizer says: a reconciliation that misses a row,
or reports drift where there is none, is wrong.

Which attributes can drift where (the records that hold the attribute):
- name, email, phone, address: every system of the entity (the other systems' records are
  then given the value when their users left it out, so the disagreement is visible);
- website: Teamwork and QuickBooks (in drift mode a company's QuickBooks record has its
  web address half the time; the CRM list has no such column);
- status: the CRM says "lead" for a customer QuickBooks bills as active (QuickBooks'
  active flag cannot tell a lead from a customer, and the CRM list has no "inactive").
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from random import Random
from typing import Any, Final

from sandbox._gen_entity import QUICKBOOKS, SHAREPOINT, SYSTEMS, TEAMWORK, Entity, PostalAddress
from sandbox._gen_mess import Projection, format_phone
from sandbox._gen_words import CITIES, LAST_NAMES, PERSONAL_MAIL_DOMAINS, STREET_NAMES, STREET_TYPES

__all__ = ["ATTRIBUTES", "DriftPlanner", "DriftTruthWriter", "RecordDrift", "address_lines"]

#: The compared attributes, in the order drift is drawn for each entity.
ATTRIBUTES: Final = ("name", "email", "phone", "address", "website", "status")
#: Words a company adds when it trades under a new name; none is a legal suffix.
_RENAME_WORDS: Final = ("Collective", "Worldwide", "Unlimited", "Direct", "Alliance")
#: Values a matcher recognises a customer by, besides the name.
_IDENTIFYING: Final = ("email", "phone", "address")
_LOCAL_DROP: Final = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class RecordDrift:
    """What one system's record of an entity gets on top of its (format-only) projection.

    `values`: attribute -> the drifted value (name/email/phone/website text, an address,
    status "lead"). `fill`: attributes the record must hold (with the entity's own value
    when the system's user left it out), so the disagreement has two sides.
    """

    values: Mapping[str, Any] = field(default_factory=dict)
    fill: frozenset[str] = frozenset()

    def project(self, p: Projection, entity: Entity) -> Projection:
        """`p` with the drifted values set and the filled attributes present."""
        changes: dict[str, Any] = {}
        if "name" in self.values:
            changes["name"] = self.values["name"]
        for attribute in ("email", "phone"):
            if attribute in self.values:
                changes[attribute] = self.values[attribute]
            elif attribute in self.fill and getattr(p, attribute) is None:
                changes[attribute] = entity.email if attribute == "email" else format_phone(entity.phone, 0)
        address = self.values.get("address")
        if address is None and "address" in self.fill and p.line1 is None:
            address = entity.address
        if address is not None:
            line1, line2, city, state, zip_code = address_lines(address)
            changes.update(line1=line1, line2=line2, city=city, state=state, zip=zip_code)
        return replace(p, **changes) if changes else p

    def website(self, entity: Entity, current: str | None) -> str | None:
        """The record's website: the drifted one, else `current`, else (when filled) the entity's own."""
        if "website" in self.values:
            return str(self.values["website"])
        if current is None and "website" in self.fill and entity.domain:
            return f"https://{entity.domain}"
        return current


def address_lines(addr: PostalAddress) -> tuple[str, str | None, str, str, str]:
    """An address written out plainly: full street words, unit on the second line, 5-digit ZIP."""
    parts = [addr.number, *([addr.direction[0]] if addr.direction else []), addr.street, addr.street_type[0]]
    unit = f"{addr.unit[0]} {addr.unit_number}" if addr.unit else None
    return " ".join(parts), unit, addr.city, addr.state, addr.zip5


class DriftPlanner:
    """Draws, per entity, which attributes drift in which system (its own random stream)."""

    def __init__(self, rng: Random, rate: float) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("drift must be between 0 and 1")
        self._rng = rng
        self.rate = rate
        #: Drifted (entity, attribute) pairs so far, per attribute.
        self.counts: dict[str, int] = dict.fromkeys(ATTRIBUTES, 0)

    def plan(self, entity: Entity) -> tuple[dict[str, RecordDrift], list[tuple[str, str]]]:
        """Per system, what its record gets; and the (attribute, system) drifts made."""
        rng = self._rng
        values: dict[str, dict[str, Any]] = {s: {} for s in SYSTEMS}
        fill: dict[str, set[str]] = {s: set() for s in SYSTEMS}
        # Drift mode gives a company's QuickBooks record a web address half the time (the builder has none).
        qb_website = QUICKBOOKS in entity.systems and bool(entity.domain) and rng.random() < 0.5
        if qb_website:
            fill[QUICKBOOKS].add("website")
        made: list[tuple[str, str]] = []
        eligible = {a: h for a in ATTRIBUTES if len(h := self._holders(entity, a, qb_website)) >= 2}
        # One drifted attribute per entity at most: a record that differs in several values at once is
        # one the matcher may rightly not link, and then no reconciliation can see its drift.
        if eligible and rng.random() < self.rate:
            attribute = rng.choice(list(eligible))
            holders = eligible[attribute]
            target = SHAREPOINT if attribute == "status" else rng.choice(holders)
            values[target][attribute] = self._drifted(entity, attribute, rng)
            for system in holders:
                if system != target:
                    fill[system].add(attribute)
            # Every record keeps the entity's other contact values, so the drifted one is still recognisable.
            for system in entity.systems:
                fill[system].update(a for a in _IDENTIFYING if a != attribute)
            made.append((attribute, target))
            self.counts[attribute] += 1
        plans = {s: RecordDrift(values=values[s], fill=frozenset(fill[s])) for s in SYSTEMS if s in entity.systems}
        return plans, made

    @staticmethod
    def _holders(entity: Entity, attribute: str, qb_website: bool) -> list[str]:
        systems = [s for s in SYSTEMS if s in entity.systems]
        if attribute == "website":
            return [s for s in systems if (s == TEAMWORK and entity.domain) or (s == QUICKBOOKS and qb_website)]
        if attribute == "status":
            # Visible only where the books say active: an inactive QuickBooks customer is "former" whatever the CRM says.
            billed = entity.lifecycle == "active" and entity.qb_active
            return [SHAREPOINT, QUICKBOOKS] if billed and {SHAREPOINT, QUICKBOOKS} <= entity.systems else []
        return systems

    @staticmethod
    def _drifted(entity: Entity, attribute: str, rng: Random) -> Any:
        if attribute == "name":
            if entity.is_person:
                family = rng.choice([n for n in LAST_NAMES[:50] if n != entity.family])
                return f"{entity.given} {family}"  # a married name
            return f"{entity.name} {rng.choice(_RENAME_WORDS)}"  # trades under a new name
        if attribute == "email":
            if entity.is_person:
                local = entity.email.split("@", 1)[0]
                domains = [d for d in PERSONAL_MAIL_DOMAINS if not entity.email.endswith("@" + d)]
                return f"{local}.{rng.randint(2, 99)}@{rng.choice(domains)}"
            local = _LOCAL_DROP.sub("", entity.given.lower()) or "contact"
            return f"{local}.{rng.randint(2, 99)}@{rng.choice(PERSONAL_MAIL_DOMAINS)}"
        if attribute == "phone":
            digits = entity.mobile
            while digits == entity.phone:
                digits = f"{entity.phone[:3]}{rng.randint(200, 989)}{rng.randint(0, 9999):04d}"
            return format_phone(digits, 0)
        if attribute == "address":
            if entity.old_address is not None and entity.old_address.number != entity.address.number:
                return entity.old_address
            city = next((c for c in CITIES if c.name == entity.address.city), CITIES[0])
            number = str(int(entity.address.number) + rng.randint(1, 400))
            return PostalAddress(number=number, direction=None, street=rng.choice(STREET_NAMES),
                                 street_type=rng.choice(STREET_TYPES), unit=None, unit_number="",
                                 city=city.name, state=city.state, zip5=entity.address.zip5, zip4="")
        if attribute == "website":
            stem = entity.domain.rsplit(".", 1)[0]
            return f"https://www.{stem}-{rng.choice(('online', 'shop', 'group', 'hq'))}.com"
        return "lead"


class DriftTruthWriter:
    """Streams `entity,attribute,system` rows; the file appears only once complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = path.with_name(path.name + ".tmp")
        self._fh = self._tmp.open("w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._fh, lineterminator="\n")
        self._csv.writerow(("entity", "attribute", "systems"))

    def rows(self, entity_id: str, made: list[tuple[str, str]]) -> None:
        for attribute, system in made:
            self._csv.writerow((entity_id, attribute, system))

    def close(self) -> None:
        self._fh.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._fh.close()
        self._tmp.unlink(missing_ok=True)


def read_drift_truth(path: Path) -> list[tuple[str, str, str]]:
    """The rows of a `drift_truth.csv`: (entity, attribute, system)."""
    with path.open(newline="", encoding="utf-8") as fh:
        return [(row["entity"], row["attribute"], row["systems"]) for row in csv.DictReader(fh)]
