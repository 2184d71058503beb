"""What each system accepts on write, per canonical attribute path, so input can be checked up front.

A path is the canonical attribute, dotted for the parts of an address or a person's name
("name", "address.postalCode", "personName.given"). A system's table holds exactly the paths
its connector writes to a field (see `_sharepoint_wire`, `_teamwork_mapping`,
`_quickbooks_mapping`); a path that is absent has no field there and is never written.

Sources of the figures: QuickBooks DisplayName <= 500 is in source-apis.md (3.9, error 2050);
its other lengths are Intuit's Customer entity reference, the same table the simulator enforces
(sandbox/quickbooks/fidelity.py). source-apis.md gives no lengths for SharePoint or Teamwork:
SharePoint's are the platform limit of a "single line of text" column (255 characters, the seed
schema's type for these columns); Teamwork documents none, so only the country code's form is known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from connectors._record import SystemName


@dataclass(frozen=True, slots=True)
class FieldLimit:
    """The longest value a system keeps in one field, and characters it refuses there.

    `max_length` is None where the system documents no limit; `choices` lists the only values a
    choice column takes (None: free text); `note` names the field and the source.
    """

    max_length: int | None
    forbidden: str = ""
    note: str = ""
    choices: frozenset[str] | None = None


#: Every attribute path a system can hold (the union of the tables below).
ATTRIBUTE_PATHS: Final = (
    "name", "email", "phone", "website", "status",
    "address.line1", "address.line2", "address.city", "address.state", "address.postalCode", "address.country",
    "personName.given", "personName.family",
)

#: SharePoint "single line of text" holds at most 255 characters (platform limit, not in source-apis.md).
_SP_TEXT: Final = 255

_SHAREPOINT: Final[Mapping[str, FieldLimit]] = {
    "name": FieldLimit(_SP_TEXT, note="Title, single line of text"),
    "email": FieldLimit(_SP_TEXT, note="EmailPrimary, single line of text"),
    "phone": FieldLimit(_SP_TEXT, note="Phone, single line of text"),
    "status": FieldLimit(None, note="CustomerStatus, choice column: lead or active (source-apis.md 1.5, 5)",
                         choices=frozenset({"lead", "active"})),
    "address.line1": FieldLimit(_SP_TEXT, note="StreetAddress1, single line of text"),
    "address.line2": FieldLimit(_SP_TEXT, note="StreetAddress2, single line of text"),
    "address.city": FieldLimit(_SP_TEXT, note="City, single line of text"),
    # A choice value is text of at most 255 characters too; which choices the tenant allows is theirs (verify).
    "address.state": FieldLimit(_SP_TEXT, note="State, choice column"),
    "address.postalCode": FieldLimit(_SP_TEXT, note="Zip, single line of text"),
    # No website, country or person-name columns on the Customers list: those attributes are not written.
}

_TEAMWORK: Final[Mapping[str, FieldLimit]] = {
    # Teamwork publishes no field lengths (source-apis.md 2.3); None means "not documented", not "unlimited".
    "name": FieldLimit(None, note="name, required on create; length not documented (verify)"),
    "email": FieldLimit(None, note="emailOne; length not documented (verify)"),
    "phone": FieldLimit(None, note="phone; length not documented (verify)"),
    "website": FieldLimit(None, note="website; length not documented (verify)"),
    "address.line1": FieldLimit(None, note="addressOne; length not documented (verify)"),
    "address.line2": FieldLimit(None, note="addressTwo; length not documented (verify)"),
    "address.city": FieldLimit(None, note="city; length not documented (verify)"),
    "address.state": FieldLimit(None, note="state; length not documented (verify)"),
    "address.postalCode": FieldLimit(None, note="zip; length not documented (verify)"),
    "address.country": FieldLimit(2, note="countrycode on write: ISO 3166-1 alpha-2 (source-apis.md 2.3)"),
    # No status (its `status` is active/deleted, and c360 never deletes companies) and no person name.
}

#: QuickBooks builds FullyQualifiedName as "Parent:Child", so a colon in a name is refused.
_QBO_NAME_FORBIDDEN: Final = ":\t\n"

_QUICKBOOKS: Final[Mapping[str, FieldLimit]] = {
    # The name goes to DisplayName (<= 500, source-apis.md 3.9) and, for a company, to CompanyName (<= 100).
    "name": FieldLimit(100, _QBO_NAME_FORBIDDEN, note="DisplayName <= 500 and CompanyName <= 100; no colon, tab or "
                                                      "newline in DisplayName"),
    "email": FieldLimit(100, note="PrimaryEmailAddr.Address <= 100"),
    "phone": FieldLimit(30, note="PrimaryPhone.FreeFormNumber <= 30"),
    "website": FieldLimit(1000, note="WebAddr.URI <= 1000"),
    "status": FieldLimit(None, note="Active: false for inactive, true for lead and active"),
    "address.line1": FieldLimit(500, note="BillAddr.Line1 <= 500"),
    "address.line2": FieldLimit(500, note="BillAddr.Line2 <= 500"),
    "address.city": FieldLimit(255, note="BillAddr.City <= 255"),
    "address.state": FieldLimit(255, note="BillAddr.CountrySubDivisionCode <= 255"),
    "address.postalCode": FieldLimit(30, note="BillAddr.PostalCode <= 30"),
    "address.country": FieldLimit(255, note="BillAddr.Country <= 255"),
    # Without a name the person's name parts make up DisplayName, so its forbidden characters apply to them.
    "personName.given": FieldLimit(100, _QBO_NAME_FORBIDDEN, note="GivenName <= 100"),
    "personName.family": FieldLimit(100, _QBO_NAME_FORBIDDEN, note="FamilyName <= 100"),
}

_LIMITS: Final[Mapping[SystemName, Mapping[str, FieldLimit]]] = {
    SystemName.SHAREPOINT: MappingProxyType(_SHAREPOINT),
    SystemName.TEAMWORK: MappingProxyType(_TEAMWORK),
    SystemName.QUICKBOOKS: MappingProxyType(_QUICKBOOKS),
}


def write_limits(system: SystemName) -> Mapping[str, FieldLimit]:
    """The limit of each attribute path `system` stores; a path it has no field for is absent."""
    return _LIMITS[SystemName(system)]
