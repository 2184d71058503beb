"""Email addresses, phone numbers and websites."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

import phonenumbers

from xref._norm_words import FREE_MAIL_DOMAINS

DEFAULT_REGION: Final = "US"
# Phone strings are cached by their digits, so "(415) 444-6538" and "415.444.6538" parse once.
_PHONE_CACHE: Final = 1 << 17
# Digits, the usual separators and an optional extension: the shapes whose digits say it all.
# Anything else (letters as in 1-800-FLOWERS, odd marks) goes to phonenumbers as typed.
_PLAIN_PHONE: Final = re.compile(
    r"\s*(\+?)([\d\s().\-/]*\d)[\s.,]*(?:(?:x|ext|extn|extension|#)[\s.:]*\d+\s*)?", re.IGNORECASE
)
_NOT_DIGIT: Final = re.compile(r"\D+")
_SCHEMES: Final = ("https://", "http://", "ftp://")


def normalize_email_address(value: str | None) -> str | None:
    """The address trimmed and case-folded, without `mailto:` or a display name; None if not an address."""
    if not value:
        return None
    email = value.strip().casefold()
    if email.startswith("mailto:"):
        email = email[7:].strip()
    if "<" in email:
        # "Bill <bill@x.com>": the part in angle brackets is the address.
        email = email.rpartition("<")[2].partition(">")[0].strip()
    local, at, domain = email.partition("@")
    if not at or not local or not domain or "@" in domain or " " in email:
        return None
    return email


def normalize_email(value: str | None) -> tuple[str | None, str | None]:
    """(address, company domain): the domain is None for free-mail (gmail.com...), which says no company."""
    email = normalize_email_address(value)
    if email is None:
        return None, None
    domain = email.rpartition("@")[2]
    return email, (None if domain in FREE_MAIL_DOMAINS else domain)


@lru_cache(maxsize=_PHONE_CACHE)
def _parse_phone(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_phone(value: str | None, region: str = DEFAULT_REGION) -> str | None:
    """E.164 (``+14154446538``); numbers without a country code are read in `region`.

    Extensions are dropped (a switchboard and its extensions are one company). Invalid
    numbers give None rather than a half-normalized string that could match by accident.
    """
    if not value:
        return None
    plain = _PLAIN_PHONE.fullmatch(value)
    if plain is not None:
        # Same number, same cache entry, whatever the separators; the extension is dropped anyway.
        return _parse_phone(plain.group(1) + _NOT_DIGIT.sub("", plain.group(2)), region)
    if not value.strip():
        return None
    return _parse_phone(value, region)


@lru_cache(maxsize=1 << 14)
def website_domain(value: str | None) -> str | None:
    """The host of a website address, case-folded, without scheme, "www.", port or path."""
    if not value:
        return None
    host = value.strip().casefold()
    for scheme in _SCHEMES:
        if host.startswith(scheme):
            host = host[len(scheme) :]
            break
    else:
        if "://" in host:
            host = host.partition("://")[2]
    for stop in "/?#":
        host = host.partition(stop)[0]
    host = host.rpartition("@")[2].partition(":")[0].strip(".")
    if host.startswith("www."):
        host = host[4:]
    if "." not in host or " " in host or not host:
        return None
    return host
