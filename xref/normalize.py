"""Normalization: a source record turned into the comparable values of a `MatchRecord`.

Every function here is pure and cheap, since a bulk run normalizes every record of every
system; values that recur (phones by their digits, cities, states, streets, names) are
cached per distinct value. The rules live in `_norm_name`, `_norm_contact` and
`_norm_address`; the word tables they use in `_norm_words`.
"""

from __future__ import annotations

from typing import Final

from connectors import SourceRecord
from xref._match_types import MatchRecord, PartyKind
from xref._norm_address import (
    normalize_city,
    normalize_postal_code,
    normalize_state,
    normalize_street,
)
from xref._norm_contact import (
    DEFAULT_REGION,
    normalize_email,
    normalize_email_address,
    normalize_phone,
    website_domain,
)
from xref._norm_name import (
    _kind,
    analyse_name,
    name_tokens,
    normalize_company_name,
    normalize_person_name,
    normalize_person_parts,
    party_kind,
)

__all__ = [
    "DEFAULT_REGION",
    "name_tokens",
    "normalize_city",
    "normalize_company_name",
    "normalize_email",
    "normalize_email_address",
    "normalize_person_name",
    "normalize_person_parts",
    "normalize_phone",
    "normalize_postal_code",
    "normalize_record",
    "normalize_state",
    "normalize_street",
    "party_kind",
    "website_domain",
]

_NO_PERSON: Final = (None, None)


def normalize_record(record: SourceRecord, index: int, *, region: str = DEFAULT_REGION) -> MatchRecord:
    """The record's comparable values; `index` is its position in the run (pairs refer to it).

    Phones without a country code are read in `region`. For a person (see `party_kind`)
    `name` is "given family" in that order, so "Smith, John" and "John Smith" agree; the
    given/family parts come from the system's own fields where it has them.
    """
    info = analyse_name(record.name)
    given, family = normalize_person_parts(record.person_name) if record.person_name is not None else _NO_PERSON
    kind = _kind(info, given, family)
    name, tokens = info.normalized, info.tokens
    if kind is PartyKind.PERSON:
        parsed = normalize_person_name(record.name) if record.name else (given, family)
        if given is None and family is None:
            given, family = parsed
        if parsed[1] is not None:
            name = parsed[1] if parsed[0] is None else f"{parsed[0]} {parsed[1]}"
            tokens = name_tokens(name)
    email, email_domain = normalize_email(record.email)
    street = unit = city = state = postal = None
    address = record.address
    if address is not None:
        street, unit = normalize_street(address.line1, address.line2)
        city = normalize_city(address.city)
        state = normalize_state(address.state)
        postal = normalize_postal_code(address.postal_code, state, address.country)
    return MatchRecord(
        index=index,
        system=record.system,
        record_id=record.id,
        kind=kind,
        name=name,
        name_tokens=tokens,
        given=given,
        family=family,
        email=email,
        email_domain=email_domain,
        phone=normalize_phone(record.phone, region),
        street=street,
        unit=unit,
        city=city,
        state=state,
        postal=postal,
        website_domain=website_domain(record.website),
    )
