"""Company and person names: the normalized form, its tokens, and whether the party is a person."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final, NamedTuple

from connectors import PersonName
from xref._match_types import PartyKind
from xref._norm_text import INWORD_MARKS, drop_marks, fold
from xref._norm_words import (
    BUSINESS_WORDS,
    DESCRIPTIVE_WORDS,
    LEGAL_SUFFIXES,
    NICKNAMES,
    PERSON_SUFFIXES,
    PERSON_TITLES,
    SURNAME_PARTICLES,
)

# Systems that demand unique names make people type "Acme (2)"; the number is not part of the name.
_COUNTER: Final = re.compile(r"\s*\(\s*\d+\s*\)\s*$")
# "Maria's Flowers": a possessive, but not the "O'S" of "O'Sullivan".
_POSSESSIVE: Final = re.compile(r"[a-z]{2}['’]s")
# An acronym typed in capitals ("PD Properties", "KLM Dental") among words that are not.
_ACRONYM: Final = re.compile(r"\b[A-Z]{2,4}\b")
_PERSON_MARKS: Final = (*INWORD_MARKS, "-")  # "O'Neil" = "ONeil", "Mary-Kate" = "MaryKate"
_PERSON_WORD: Final = re.compile(r",|[0-9a-z]+")
_WORD: Final = re.compile(r"[0-9a-z]+")
_PERSON_CACHE: Final = 1 << 16


class NameInfo(NamedTuple):
    """What one raw name says: its normalized form and the signals `party_kind` weighs."""

    normalized: str | None
    #: Distinct words of `normalized`, sorted.
    tokens: tuple[str, ...]
    legal_suffix: bool
    business: bool
    #: 2-3 alphabetic words and nothing that marks a business: "Maria Lopez", "Lopez, Maria".
    person_like: bool


def analyse_name(value: str | None) -> NameInfo:
    """Normalize a name once and keep the signals.

    Not cached: 70% of the names of a bulk run are distinct and an LRU of any sane size
    misses the copies, which sit a whole system apart in the run.
    """
    if not value:
        return NameInfo(None, (), False, False, False)
    if value.endswith(")"):
        value = _COUNTER.sub("", value)
    text = value.casefold()
    if not text.isascii():
        text = fold(text)
    if "&" in text or "+" in text:
        text = text.replace("&", " and ").replace("+", " and ")
    tokens = _WORD.findall(drop_marks(text))
    legal = False
    while tokens and tokens[-1] in LEGAL_SUFFIXES:
        tokens.pop()
        legal = True
    if legal and len(tokens) > 1 and tokens[-1] == "and":
        tokens.pop()  # "Smith & Co." reads as "Smith"
    leading_the = len(tokens) > 1 and tokens[0] == "the"
    if leading_the:
        tokens.pop(0)
    business = (
        leading_the
        or not BUSINESS_WORDS.isdisjoint(tokens)
        or (bool(tokens) and tokens[0].startswith("the") and _descriptive(tokens[0]))
        or "co-op" in text
        or (("'" in text or "’" in text) and _POSSESSIVE.search(text) is not None)
        or (not value.istitle() and not value.isupper() and _ACRONYM.search(value) is not None)
    )
    person_like = (
        not legal
        and not business
        and 2 <= len(tokens) <= 3
        and "and" not in tokens
        and "".join(tokens).isalpha()
        and (("," in text) or not _descriptive(tokens[0]))
    )
    return NameInfo(" ".join(tokens) or None, tuple(sorted(set(tokens))), legal, business, person_like)


def _descriptive(word: str) -> bool:
    # "TheGolden Peak": a lost space glued the article to the first word.
    return word in DESCRIPTIVE_WORDS or (word.startswith("the") and word[3:] in DESCRIPTIVE_WORDS)


def normalize_company_name(value: str | None) -> str | None:
    """A company (or any party's) name reduced to what people do not vary.

    Case-folded, accents and punctuation removed ("Bill's" = "Bills"), "&"/"+" read as
    "and", legal suffixes (Inc, LLC, L.L.C., Ltd, Corp, Co, Company, Limited, LLP, PC...)
    dropped from the end, a leading "The" dropped, a trailing "(2)" dropped. None when
    nothing is left ("Inc." alone).
    """
    return analyse_name(value).normalized


def name_tokens(normalized: str | None) -> tuple[str, ...]:
    """The distinct words of an already normalized name, sorted (word order then does not matter)."""
    if not normalized:
        return ()
    return tuple(sorted(set(normalized.split())))


def _person_words(text: str) -> list[str]:
    return _PERSON_WORD.findall(drop_marks(fold(text), _PERSON_MARKS))


def _given(token: str) -> str:
    return NICKNAMES.get(token, token)


def _split_person(tokens: list[str]) -> tuple[str | None, str | None]:
    """(given, family) of folded words in "Given [Middle...] Family" order."""
    while tokens and tokens[0] in PERSON_TITLES:
        tokens = tokens[1:]
    while tokens and tokens[-1] in PERSON_SUFFIXES:
        tokens = tokens[:-1]
    if not tokens:
        return None, None
    if len(tokens) == 1:
        return None, tokens[0]
    start = len(tokens) - 1
    # Particles join the family name, but the given name is never one ("Van Morrison").
    while start > 1 and tokens[start - 1] in SURNAME_PARTICLES:
        start -= 1
    return _given(tokens[0]), " ".join(tokens[start:])


@lru_cache(maxsize=_PERSON_CACHE)
def normalize_person_name(value: str | None) -> tuple[str | None, str | None]:
    """(given, family) of a full name written either way: "Smith, John" = "John A. Smith".

    Case-folded and accent-free; titles (Dr, Mrs), generational suffixes (Jr, III) and middle
    names or initials dropped; a common nickname read as its given name ("Bill" -> "william").
    A given name written as an initial stays one letter ("J. Smith" -> ("j", "smith")). A
    single word is taken as the family name.
    """
    if not value:
        return None, None
    tokens = _person_words(value)
    if "," in tokens:
        comma = tokens.index(",")
        family = [t for t in tokens[:comma] if t not in PERSON_TITLES]
        rest = [t for t in tokens[comma + 1 :] if t != "," and t not in PERSON_SUFFIXES and t not in PERSON_TITLES]
        if family and rest:
            return _given(rest[0]), " ".join(family)
        # "John Smith, Jr." or a dangling comma: not the family-first form.
        tokens = family + rest
    return _split_person([t for t in tokens if t != ","])


def normalize_person_parts(person: PersonName | None) -> tuple[str | None, str | None]:
    """(given, family) of a name a system keeps in parts, normalized like `normalize_person_name`."""
    if person is None:
        return None, None
    given = _person_words(person.given)[:1] if person.given else []
    family = [t for t in _person_words(person.family) if t != ","] if person.family else []
    return (_given(given[0]) if given else None), (" ".join(family) or None)


def party_kind(name: str | None, person_name: PersonName | None = None) -> PartyKind:
    """Whether a record is a company's or a person's, from its name and any person name it holds.

    COMPANY: the name has a legal suffix or a business word ("Shop", "Consulting", a leading
    "The", a possessive), or the record holds a contact person whose name is not the record's
    name (a company with a contact). PERSON: only a person name, or a person name that the
    record's name repeats, or a name that looks like a person's (2-3 alphabetic words, not
    opening with a descriptive word like "Golden"). UNKNOWN otherwise.
    """
    info = analyse_name(name)
    return _kind(info, *normalize_person_parts(person_name))


def _kind(info: NameInfo, given: str | None, family: str | None) -> PartyKind:
    if info.legal_suffix or info.business:
        return PartyKind.COMPANY
    if given is None and family is None:
        return PartyKind.PERSON if info.person_like else PartyKind.UNKNOWN
    if info.normalized is None:
        return PartyKind.PERSON
    tokens = info.tokens
    if (family is not None and family.rpartition(" ")[2] in tokens) or (given is not None and given in tokens):
        return PartyKind.PERSON
    if info.person_like and given is not None:
        # "Bill Smyth" for William Smith, "M. Hopkns" for Michael Hopkins: a typo in the family name.
        first = info.normalized.partition(" ")[0]
        if NICKNAMES.get(first) == given or (len(first) == 1 and given.startswith(first)):
            return PartyKind.PERSON
    # A name of its own next to a contact person: the system keeps a company with a contact.
    return PartyKind.COMPANY
