"""How one entity gets typed into one system: name variants, stale addresses, odd phone formats.

Each system has a `MessProfile` (a sales CRM is messier than the books), and a
duplicate entry uses a messier one still. All randomness comes from the
caller's seeded `Random`, so a projection is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from random import Random

from sandbox._gen_entity import Entity, PostalAddress
from sandbox._gen_words import LEGAL_SPELLINGS, LEGAL_SUFFIXES, NICKNAMES, PERSONAL_MAIL_DOMAINS, STATE_NAMES


@dataclass(frozen=True, slots=True)
class MessProfile:
    """Probabilities of each kind of difference when a system's user types a customer in."""

    keep_suffix: float = 0.5  # company has a legal suffix and it is written
    add_suffix: float = 0.05  # company has none but one is added anyway
    name_variant: float = 0.2
    typo: float = 0.02
    email_missing: float = 0.08
    email_billing: float = 0.05
    email_other: float = 0.05
    email_case: float = 0.08
    email_space: float = 0.02
    phone_missing: float = 0.1
    phone_mobile: float = 0.05
    phone_formats: tuple[float, ...] = (5, 3, 1, 1, 1, 1)  # weights of _PHONE_FORMATS
    phone_ext: float = 0.7  # an entity with an extension gets it written
    address_missing: float = 0.1
    address_stale: float = 0.5  # a moved entity still shows the old address
    abbreviate: float = 0.6
    unit_merged: float = 0.15
    state_name: float = 0.05
    zip4: float = 0.05
    contact_missing: float = 0.2  # no given/family name for a company's contact
    #: Only differences of form that normalization erases (case, spacing, legal-suffix spelling,
    #: abbreviations, phone formats): no typo, other value or name variant that reads differently.
    format_only: bool = False


SHAREPOINT_MESS = MessProfile(
    keep_suffix=0.35, name_variant=0.25, typo=0.03, email_missing=0.06, email_other=0.08,
    email_case=0.1, email_space=0.03, phone_missing=0.12, phone_formats=(6, 3, 1, 2, 2, 1),
    address_missing=0.12, address_stale=0.6, abbreviate=0.65, state_name=0.08, zip4=0.03,
)
TEAMWORK_MESS = MessProfile(
    keep_suffix=0.45, name_variant=0.2, typo=0.02, email_missing=0.1, email_other=0.1,
    email_case=0.06, phone_missing=0.2, phone_mobile=0.1, phone_formats=(3, 4, 2, 1, 1, 1),
    address_missing=0.25, address_stale=0.5, abbreviate=0.5, state_name=0.15, zip4=0.02,
)
QUICKBOOKS_MESS = MessProfile(
    keep_suffix=0.8, add_suffix=0.1, name_variant=0.12, typo=0.01, email_missing=0.04,
    email_billing=0.45, email_other=0.03, email_case=0.05, phone_missing=0.08,
    phone_formats=(7, 2, 1, 1, 1, 0.5), address_missing=0.04, address_stale=0.2,
    abbreviate=0.7, state_name=0.02, zip4=0.25, contact_missing=0.3,
)
# Someone who could not find the existing record and typed it in again.
DUPLICATE_MESS = MessProfile(
    keep_suffix=0.5, add_suffix=0.15, name_variant=0.7, typo=0.1, email_missing=0.15,
    email_billing=0.15, email_other=0.25, email_case=0.25, email_space=0.08, phone_missing=0.2,
    phone_mobile=0.2, phone_formats=(2, 2, 2, 2, 2, 1), address_missing=0.25, address_stale=0.3,
    abbreviate=0.5, unit_merged=0.3, state_name=0.15, zip4=0.1, contact_missing=0.4,
)



def format_only(profile: MessProfile) -> MessProfile:
    """`profile` without its value-level differences (for data whose drift must be known exactly).

    Missing values stay: a gap is not a disagreement.
    """
    return replace(profile, typo=0.0, email_billing=0.0, email_other=0.0, phone_mobile=0.0, address_stale=0.0,
                   format_only=True)


_PHONE_FORMATS: tuple[str, ...] = (
    "({a}) {p}-{l}", "{a}-{p}-{l}", "{a}.{p}.{l}", "+1 {a} {p} {l}", "{a}{p}{l}", "1-{a}-{p}-{l}",
)
_EXT_FORMATS: tuple[str, ...] = (" x{e}", " ext. {e}", " ext {e}", " x.{e}")
_KEYBOARD_NEIGHBOURS = dict(zip("aeioustnrlmcdph", "sriyiawbtkncfoj", strict=True))


@dataclass(frozen=True, slots=True)
class Projection:
    """The customer as one system's record shows it; None is "not entered"."""

    name: str
    given: str | None
    family: str | None
    email: str | None
    phone: str | None
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    zip: str | None


def project(entity: Entity, profile: MessProfile, rng: Random) -> Projection:
    """A messy but recognisable copy of `entity` as `profile`'s users would type it."""
    if entity.is_person:
        name = _person_name(entity, profile, rng)
    else:
        name = _company_name(entity, profile, rng)
    if rng.random() < profile.typo:
        name = typo(name, rng)
    contact = not entity.is_person and rng.random() < profile.contact_missing
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None
    if rng.random() >= profile.address_missing:
        stale = entity.old_address is not None and rng.random() < profile.address_stale
        line1, line2, city, state, zip_code = _address(
            entity.old_address if stale and entity.old_address else entity.address, profile, rng
        )
    return Projection(
        name=name,
        given=None if contact else entity.given,
        family=None if contact else entity.family,
        email=_email(entity, profile, rng),
        phone=_phone(entity, profile, rng),
        line1=line1,
        line2=line2,
        city=city,
        state=state,
        zip=zip_code,
    )


def typo(text: str, rng: Random) -> str:
    """One slip of the finger (swap, drop, double or neighbour key), never on the first letter."""
    spots = [i for i in range(1, len(text)) if text[i].isalpha()]
    if not spots:
        return text
    i = rng.choice(spots)
    kind = rng.randrange(4)
    if kind == 0 and i + 1 < len(text) and text[i + 1].isalpha() and text[i] != text[i + 1]:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == 1:
        return text[:i] + text[i + 1 :]
    if kind == 2:
        return text[:i] + text[i] + text[i:]
    near = _KEYBOARD_NEIGHBOURS.get(text[i].lower())
    if near is None:
        return text[:i] + text[i + 1 :]
    return text[:i] + (near.upper() if text[i].isupper() else near) + text[i + 1 :]


def format_phone(digits: str, style: int, ext: str = "", ext_style: int = 0) -> str:
    """A ten-digit US number in one of the ways people write it."""
    text = _PHONE_FORMATS[style].format(a=digits[:3], p=digits[3:6], l=digits[6:])
    return text + _EXT_FORMATS[ext_style % len(_EXT_FORMATS)].format(e=ext) if ext else text


def _company_name(entity: Entity, profile: MessProfile, rng: Random) -> str:
    name = entity.name
    if entity.legal_suffix and rng.random() < profile.keep_suffix:
        suffix = entity.legal_suffix
        if rng.random() < 0.25:
            suffix = rng.choice(LEGAL_SPELLINGS[suffix])
        name = f"{name}{suffix}" if suffix.startswith(",") else f"{name} {suffix}"
    elif not entity.legal_suffix and rng.random() < profile.add_suffix:
        name = f"{name} {rng.choice(LEGAL_SUFFIXES)}"
    if rng.random() < profile.name_variant:
        name = _company_variant(name, rng, profile.format_only)
    return name


def _company_variant(name: str, rng: Random, format_only: bool = False) -> str:
    kind = rng.randrange(7)
    if kind == 0 and ("&" in name or " and " in name):
        return name.replace(" & ", " and ") if "&" in name else name.replace(" and ", " & ")
    if kind == 1 and "'" in name:
        return name.replace("'s", "s", 1)
    if kind == 2:
        return name[4:] if name.startswith("The ") else f"The {name}"
    if kind == 3:
        return name.upper()
    if kind == 4:
        return name.replace(" ", "  ", 1) if rng.random() < 0.5 else f"{name} "
    if kind == 5:
        return name.lower() if rng.random() < 0.3 else name.title()
    if "&" in name:
        return name.replace("&", "+")
    # A lost space reads as another word ("BlueSky"): a difference of value, not of form.
    return name.replace(" ", "", 1) if name.count(" ") > 1 and not format_only else name


def _person_name(entity: Entity, profile: MessProfile, rng: Random) -> str:
    given = entity.given
    if rng.random() >= profile.name_variant:
        return f"{given} {entity.family}"
    kind = rng.randrange(5)
    if profile.format_only and kind < 3:
        # "Smith, John", a nickname or a middle initial normalize to other words: only case varies.
        kind = 3 + kind % 2
    if kind == 0:
        return f"{entity.family}, {given}"
    if kind == 1:
        return f"{NICKNAMES.get(given, given[0] + '.')} {entity.family}"
    if kind == 2:
        return f"{given} {rng.choice('ABCDEFGHJKLMNPRSTW')}. {entity.family}"
    if kind == 3:
        return f"{given} {entity.family}".upper()
    return f"{given} {entity.family}".lower()


def _email(entity: Entity, profile: MessProfile, rng: Random) -> str | None:
    if rng.random() < profile.email_missing:
        return None
    email = entity.email
    r = rng.random()
    if r < profile.email_billing:
        email = entity.billing_email
    elif r < profile.email_billing + profile.email_other:
        if entity.is_person:
            local = email.split("@", 1)[0]
            email = f"{local}@{rng.choice(PERSONAL_MAIL_DOMAINS)}"
        else:
            # The contact's private address instead of the company one.
            email = f"{entity.given}.{entity.family}".lower().replace(" ", "").replace("'", "") + f"@{rng.choice(PERSONAL_MAIL_DOMAINS)}"
    if rng.random() < profile.email_case:
        local, domain = email.split("@", 1)
        email = rng.choice((f"{local.title()}@{domain.title()}", email.upper(), f"{local.capitalize()}@{domain}"))
    if rng.random() < profile.email_space:
        email = rng.choice((f" {email}", f"{email} ", f"{email}  "))
    return email


def _phone(entity: Entity, profile: MessProfile, rng: Random) -> str | None:
    if rng.random() < profile.phone_missing:
        return None
    digits = entity.mobile if rng.random() < profile.phone_mobile else entity.phone
    style = rng.choices(range(len(_PHONE_FORMATS)), profile.phone_formats)[0]
    ext = entity.phone_ext if digits == entity.phone and rng.random() < profile.phone_ext else ""
    return format_phone(digits, style, ext, rng.randrange(len(_EXT_FORMATS)))


def _address(
    addr: PostalAddress, profile: MessProfile, rng: Random
) -> tuple[str, str | None, str, str, str]:
    short = rng.random() < profile.abbreviate
    street_type = addr.street_type[1 if short else 0]
    if short and rng.random() < 0.3:
        street_type = street_type.rstrip(".")
    parts = [addr.number]
    if addr.direction:
        parts.append(addr.direction[1 if short else 0])
    parts += [addr.street, street_type]
    line1 = " ".join(parts)
    line2: str | None = None
    if addr.unit:
        style = rng.randrange(3)
        unit = (
            f"{addr.unit[0]} {addr.unit_number}" if style == 0
            else f"{addr.unit[1]} {addr.unit_number}" if style == 1
            else f"#{addr.unit_number}"
        )
        if rng.random() < profile.unit_merged:
            line1 = f"{line1}, {unit}" if style != 2 else f"{line1} {unit}"
        else:
            line2 = unit
    state = STATE_NAMES[addr.state] if rng.random() < profile.state_name else addr.state
    zip_code = f"{addr.zip5}-{addr.zip4}" if rng.random() < profile.zip4 else addr.zip5
    city = addr.city.upper() if rng.random() < 0.02 else addr.city
    return line1, line2, city, state, zip_code
