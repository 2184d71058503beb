"""The blocking keys: which values of a MatchRecord put it in the same block as another.

Each key family turns one record into zero or more key values; records sharing a value
are compared. The families overlap on purpose: a true pair needs only one shared key to
be found, so a moved address is caught by the email, a new email by the phone, a typo
in the name by the postal code plus a name prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from xref._match_types import MatchRecord

__all__ = ["DEFAULT_KEYS", "KeyFamily", "TokenRarity", "soundex"]

#: The name's rarest token is paired with the next rarest; more pairs cost a fifth more
#: candidates on generated data for no measurable recall.
_PAIR_TOKENS: Final = 2
_PREFIX: Final = 3
#: Neighbours per record in the global name-order pass; most of its pairs are found by other keys too.
_NAME_WINDOW: Final = 3

TokenRarity = Mapping[str, int]
"""How many records of the run carry each name token (document frequency)."""


@dataclass(frozen=True, slots=True)
class KeyFamily:
    """One way of blocking: `values` gives a record's key values, `order` sorts an oversized block.

    `order` matters only when a block is too large to compare in full: a window slides over
    the block sorted by it, so it should bring likely duplicates next to each other using
    attributes other than the one the block already shares.
    """

    name: str
    values: Callable[[MatchRecord, TokenRarity], Sequence[str]]
    order: Callable[[MatchRecord], tuple[str, ...]]
    #: For a family that is a sorted-neighbourhood pass by design (one block of everything): its
    #: window, used for its oversized blocks even when the run skips oversized blocks.
    window: int | None = None


def _by_name(r: MatchRecord) -> tuple[str, ...]:
    return (r.name or "", r.postal or "", r.street or "")


def _by_place(r: MatchRecord) -> tuple[str, ...]:
    return (r.postal or "", r.street or "", r.name or "")


def _by_condensed(r: MatchRecord) -> tuple[str, ...]:
    return (_condensed(r), r.postal or "")


def _by_contact(r: MatchRecord) -> tuple[str, ...]:
    return (r.email or "", r.phone or "", r.name or "")


def rarest_tokens(record: MatchRecord, rarity: TokenRarity, count: int) -> list[str]:
    """The record's `count` least common name tokens (ties by the token itself, so stable)."""
    return sorted(record.name_tokens, key=lambda t: (rarity.get(t, 0), t))[:count]


def _email(r: MatchRecord, _: TokenRarity) -> Sequence[str]:
    return (r.email,) if r.email else ()


def _phone(r: MatchRecord, _: TokenRarity) -> Sequence[str]:
    return (r.phone,) if r.phone else ()


def _domain(r: MatchRecord, _: TokenRarity) -> Sequence[str]:
    # One family for both: a company's mail domain is usually its website's host.
    if r.email_domain and r.website_domain and r.email_domain != r.website_domain:
        return (r.email_domain, r.website_domain)
    value = r.email_domain or r.website_domain
    return (value,) if value else ()


def _postal_name(r: MatchRecord, rarity: TokenRarity) -> Sequence[str]:
    # The rarest token tells firms apart; the first token survives when a variant adds a rare word.
    if not r.postal or not r.name_tokens:
        return ()
    tokens = {rarest_tokens(r, rarity, 1)[0][:_PREFIX], _first_token(r)[:_PREFIX]}
    return [f"{r.postal}|{t}" for t in sorted(tokens)]


def _first_token(r: MatchRecord) -> str:
    # name_tokens is sorted; the name's own first word is what people rarely change.
    if r.name:
        return r.name.split(" ", 1)[0]
    return r.name_tokens[0]


def _name_tokens(r: MatchRecord, rarity: TokenRarity) -> Sequence[str]:
    # The whole token set, and the two rarest tokens: "acme widgets" still meets "acme widgets
    # holdings". Two common tokens ("and sons") would only make big blocks.
    if not r.name_tokens:
        return ()
    keys = {" ".join(r.name_tokens)}
    rarest, *others = rarest_tokens(r, rarity, _PAIR_TOKENS)
    keys.update(" ".join(sorted((rarest, other))) for other in others)
    return sorted(keys)


def _condensed(r: MatchRecord) -> str:
    return r.name.replace(" ", "") if r.name else ""


def _all_named(r: MatchRecord, _: TokenRarity) -> Sequence[str]:
    # One block of every named record, walked in condensed-name order (a sorted-neighbourhood
    # pass): spaces gone, "openrock" sits next to "open rock", and a typo late in the name
    # ("architeecture") still sorts beside the right spelling.
    return ("*",) if r.name else ()


def _street(r: MatchRecord, _: TokenRarity) -> Sequence[str]:
    if not r.street:
        return ()
    if r.postal:
        return (f"{r.street}|{r.postal}",)
    if r.city:
        return (f"{r.street}|{r.city}|{r.state or ''}",)
    return ()


def _family_sound(r: MatchRecord, _: TokenRarity) -> Sequence[str]:
    # Catches "Katherine Smyth" vs "Kathryn Smith". A sound code alone would put every
    # Smith of the country in one block, so the given initial and the area (ZIP3, else
    # state) narrow it; a person who moved away is left to the email and phone keys.
    code = soundex(r.family) if r.family else ""
    area = r.postal[:3] if r.postal else r.state
    if not code or not area:
        return ()
    return (f"{code}|{(r.given or '')[:1]}|{area}",)


_SOUNDEX: Final = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}


def soundex(word: str) -> str:
    """American Soundex ("smith" and "smyth" -> "s530"); "" when the word has no letters."""
    letters = [c for c in word.casefold() if "a" <= c <= "z"]
    if not letters:
        return ""
    code = [letters[0]]
    last = _SOUNDEX.get(letters[0], "")
    for c in letters[1:]:
        digit = _SOUNDEX.get(c, "")
        if digit and digit != last:
            code.append(digit)
            if len(code) == 4:
                break
        if c not in "hw":  # h and w do not separate equal codes; vowels do
            last = digit
    return "".join(code).ljust(4, "0")


DEFAULT_KEYS: Final[tuple[KeyFamily, ...]] = (
    KeyFamily("email", _email, _by_name),
    KeyFamily("phone", _phone, _by_name),
    KeyFamily("domain", _domain, _by_name),
    KeyFamily("postal_name", _postal_name, _by_name),
    KeyFamily("name_tokens", _name_tokens, _by_place),
    KeyFamily("name_sorted", _all_named, _by_condensed, window=_NAME_WINDOW),
    KeyFamily("street_postal", _street, _by_name),
    KeyFamily("family_sound", _family_sound, _by_contact),
)
