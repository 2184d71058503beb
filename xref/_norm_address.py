"""Postal addresses: street line and unit, city, state, postal code."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from xref._norm_text import drop_marks, fold
from xref._norm_words import (
    CITY_WORDS,
    STATE_CODES,
    STATE_NAMES,
    STREET_WORDS,
    UNIT_DESIGNATORS,
    US_COUNTRY_NAMES,
    ZERO_ZIP_STATES,
)

_STREET_WORD: Final = re.compile(r"#|[0-9a-z]+")
_WORD: Final = re.compile(r"[0-9a-z]+")
_ZIP: Final = re.compile(r"\s*(\d{4,5})(?:\s*-?\s*\d{4})?\s*")


def _street_words(line: str) -> list[str]:
    return _STREET_WORD.findall(drop_marks(fold(line)))


def _unit_of(tokens: list[str]) -> str | None:
    """The unit identifier of "ste 4", "# 4", "bldg 2 ste 100": designators dropped, "4", "2 100"."""
    ids = [t for t in tokens if t not in UNIT_DESIGNATORS]
    if ids:
        return " ".join(ids)
    named = [t for t in tokens if t != "#"]
    return " ".join(named) or None


def normalize_street(line1: str | None, line2: str | None = None) -> tuple[str | None, str | None]:
    """(street, unit) of an address's street lines: ("12 ocean dr", "4") for "12 Ocean Drive, Suite 4".

    Street words take their USPS abbreviations (Street -> st, Avenue -> ave, North -> n, and
    ordinal words: Second -> 2nd), punctuation goes. The unit (Suite/Ste/Unit/Apt/Fl/Bldg/#)
    is split off whether it was typed on the first line or the second, and kept as its
    identifier only ("Suite 4" = "Ste. 4" = "#4" -> "4"), since people swap the designator
    freely. A second line with no designator and no digits (an "Attn:" line) is ignored.
    """
    street: str | None = None
    unit: str | None = None
    if line1:
        tokens = _street_words(line1)
        if not UNIT_DESIGNATORS.isdisjoint(tokens):
            cut = next((i for i in range(1, len(tokens)) if tokens[i] in UNIT_DESIGNATORS), len(tokens))
            if cut < len(tokens):
                unit = _unit_of(tokens[cut:])
                tokens = tokens[:cut]
        street = " ".join(map(STREET_WORDS.get, tokens, tokens)) or None
    if unit is None and line2:
        tokens = _street_words(line2)
        if tokens and (tokens[0] in UNIT_DESIGNATORS or (len(tokens) == 1 and not tokens[0].isalpha())):
            unit = _unit_of(tokens)
    return street, unit


@lru_cache(maxsize=4096)
def normalize_city(value: str | None) -> str | None:
    """Case-folded, accent- and punctuation-free; "St."/"Ft."/"Mt." at the start read as words."""
    if not value:
        return None
    tokens = _WORD.findall(drop_marks(fold(value)))
    if not tokens:
        return None
    tokens[0] = CITY_WORDS.get(tokens[0], tokens[0])
    return " ".join(tokens)


@lru_cache(maxsize=1024)
def normalize_state(value: str | None) -> str | None:
    """The two-letter code of a US state, DC or territory, from a code or a name ("New York", "Calif.").

    Another two-letter code (a Canadian province, say) is kept in upper case; anything else is None.
    """
    if not value:
        return None
    text = " ".join(_WORD.findall(fold(value)))
    if len(text) == 2 and text.isalpha():
        return text.upper()
    code = STATE_NAMES.get(text)
    if code is None and text.replace(" ", "").upper() in STATE_CODES:
        code = text.replace(" ", "").upper()  # "N. Y." written with spaces
    return code


@lru_cache(maxsize=256)
def is_us_country(value: str | None) -> bool:
    """True for an empty country or one of the ways people write the United States."""
    if not value or not value.strip():
        return True
    return " ".join(fold(value).replace(".", " ").split()) in US_COUNTRY_NAMES


def normalize_postal_code(value: str | None, state: str | None = None, country: str | None = None) -> str | None:
    """The 5-digit US ZIP code (ZIP+4 cut to 5); outside the US, upper case without spaces.

    A 4-digit code is a ZIP that lost its leading zero (a spreadsheet read it as a number)
    only when `state` is one whose ZIPs start with 0 (CT, MA, ME, NH, NJ, RI, VT, PR, VI);
    then it is padded. Elsewhere, or with no state, it is None: guessing would invent a key.
    """
    if not value:
        return None
    if len(value) == 5 and value.isdigit():
        return value  # the usual case, and the same answer in every country
    if country and not is_us_country(country):
        foreign = "".join(value.split()).upper()
        return foreign or None
    match = _ZIP.fullmatch(value)
    if match is None:
        return None
    digits = match.group(1)
    if len(digits) == 5:
        return digits
    if state is not None and normalize_state(state) in ZERO_ZIP_STATES:
        return "0" + digits
    return None
