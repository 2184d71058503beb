"""Attribute ownership: which systems publish, consume or ignore each canonical attribute (seed 002).

A write-through mutation writes an attribute to every linked system that publishes or
consumes it, and never to one that ignores it. "Publish" marks where the attribute is
kept authoritatively (people edit it there); "consume" marks a system that holds a copy
the gateway keeps in step; "ignore" marks a system that has no field for it or must not
receive it. The defaults follow the systems' roles (seed 003): the CRM is where sales
enters customers and keeps contact details and status; accounting owns the billing
identity and address; project management receives what it needs for its companies.
Gateway settings (`ownership`) override single cells.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from connectors import SystemName, write_limits


class Ownership(StrEnum):
    #: The system is authoritative for the attribute; it is written there and read from there first.
    PUBLISH = "publish"
    #: The system keeps a copy; the gateway writes changes to it.
    CONSUME = "consume"
    #: The system does not hold the attribute; nothing is written there.
    IGNORE = "ignore"


#: The canonical attributes ownership is declared for (the roots of the attribute paths).
ATTRIBUTES: Final = ("name", "email", "phone", "address", "website", "status", "personName")

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS
PUBLISH, CONSUME, IGNORE = Ownership.PUBLISH, Ownership.CONSUME, Ownership.IGNORE

#: The default table; `REASONS` says why for each row.
DEFAULT_TABLE: Final[Mapping[str, Mapping[SystemName, Ownership]]] = MappingProxyType({
    "name": {SP: PUBLISH, QB: PUBLISH, TW: CONSUME},
    "email": {SP: PUBLISH, QB: CONSUME, TW: CONSUME},
    "phone": {SP: PUBLISH, QB: CONSUME, TW: CONSUME},
    "address": {QB: PUBLISH, SP: CONSUME, TW: CONSUME},
    "website": {TW: PUBLISH, QB: CONSUME, SP: IGNORE},
    "status": {SP: PUBLISH, QB: CONSUME, TW: IGNORE},
    "personName": {QB: PUBLISH, SP: IGNORE, TW: IGNORE},
})

#: One line per attribute: why its row reads as it does.
REASONS: Final[Mapping[str, str]] = MappingProxyType({
    "name": "sales names the customer in the CRM; finance keeps the legal/billing name; projects copy it",
    "email": "a contact detail sales keeps current in the CRM; accounting and projects receive it",
    "phone": "a contact detail sales keeps current in the CRM; accounting and projects receive it",
    "address": "the billing address is finance's; the CRM and the project tool hold copies",
    "website": "project teams keep the company site; accounting copies it; the CRM list has no column",
    "status": "lead/active is decided in the CRM; accounting mirrors it as its active flag; Teamwork has no such field",
    "personName": "only accounting stores a contact person's given and family name",
})


def root_attribute(attribute: str) -> str:
    """The attribute a path belongs to ("address" for "address.postalCode"); refuses unknown ones."""
    root = attribute.split(".", 1)[0]
    if root not in ATTRIBUTES:
        raise ValueError(f"unknown attribute {attribute!r}; known: {', '.join(ATTRIBUTES)}")
    return root


def stored_attributes(system: SystemName) -> frozenset[str]:
    """The canonical attributes `system` has a field for (from its connector's write limits)."""
    return frozenset(path.split(".", 1)[0] for path in write_limits(system))


@dataclass(frozen=True)
class OwnershipPolicy:
    """Ownership per attribute and system; a cell not in `table` is `default` (ignore: never write blindly)."""

    table: Mapping[str, Mapping[SystemName, Ownership]] = field(default_factory=lambda: DEFAULT_TABLE)
    default: Ownership = IGNORE

    def ownership(self, attribute: str, system: SystemName) -> Ownership:
        return self.table.get(root_attribute(attribute), {}).get(system, self.default)

    def systems_to_write(self, attribute: str, linked_systems: Iterable[SystemName]) -> set[SystemName]:
        """The linked systems a change of `attribute` goes to: those that publish or consume it."""
        return {s for s in linked_systems if self.ownership(attribute, s) is not IGNORE}

    def publishers(self, attribute: str) -> set[SystemName]:
        root = root_attribute(attribute)
        return {s for s, o in self.table.get(root, {}).items() if o is PUBLISH}

    def consumers(self, attribute: str) -> set[SystemName]:
        root = root_attribute(attribute)
        return {s for s, o in self.table.get(root, {}).items() if o is CONSUME}

    def with_overrides(self, overrides: Mapping[str, Mapping[SystemName, Ownership]]) -> OwnershipPolicy:
        """This policy with single cells replaced (an override of one system keeps the others)."""
        table = {attr: dict(row) for attr, row in self.table.items()}
        for attribute, row in overrides.items():
            table.setdefault(root_attribute(attribute), {}).update(row)
        return OwnershipPolicy(table=MappingProxyType(table), default=self.default)


DEFAULT_OWNERSHIP: Final = OwnershipPolicy()


def systems_to_write(
    attribute: str, linked_systems: Collection[SystemName], *, policy: OwnershipPolicy = DEFAULT_OWNERSHIP
) -> set[SystemName]:
    """The linked systems a change of `attribute` (or of one of its parts) is written to."""
    return policy.systems_to_write(attribute, linked_systems)


def publishers(attribute: str, *, policy: OwnershipPolicy = DEFAULT_OWNERSHIP) -> set[SystemName]:
    """The systems authoritative for `attribute`."""
    return policy.publishers(attribute)


def unwritable_cells(
    table: Mapping[str, Mapping[SystemName, Ownership]],
) -> list[tuple[str, SystemName, Ownership]]:
    """Cells that publish or consume an attribute in a system with no field for it (a misconfiguration)."""
    return [
        (attribute, system, ownership)
        for attribute, row in table.items()
        for system, ownership in row.items()
        if ownership is not IGNORE and root_attribute(attribute) not in stored_attributes(system)
    ]
