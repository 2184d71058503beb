"""Check a customer mutation's input before any system is touched, and return every problem at once.

`validate_customer_input` checks formats (email, phone, website, country, state, postal
code), mandatory fields, and each receiving system's length and character limits, and
gives back the values normalized for writing. Nothing stops at the first problem: each
field reports what is wrong with it, with its path in the input.

What a blank value ("" or only spaces) means, on update:
- name: refused (EMPTY); a customer always has a name.
- email, phone, website: clears the value in the systems that receive it (normalized to "").
- address: an address with every part blank clears the address; otherwise it is a whole
  address (connectors write it whole), and its blank parts are simply absent.
- personName: written whole like an address; a blank part is absent, both blank clears it.
On create a blank value is the same as no value (there is nothing to clear), except the
name, which is mandatory; a new customer is a lead unless the input says otherwise.

Address rules: a non-blank address needs a first line and a city, and in the US and Canada
a state (or province) and a postal code. The country is an ISO 3166-1 alpha-2 code or a
common name of one; without it the country is inferred from a US state or Canadian
province, else `default_region` is assumed (the inferred country is used for checking only,
it is not written). States of the US and Canada are normalized to their two-letter codes;
postal codes are checked and formatted for US, CA, GB, AU, DE, FR and NL; elsewhere only
the systems' length limits apply.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from connectors import Address, CustomerStatus, PersonName, RecordChanges, SystemName, write_limits
from resolvers.ownership import DEFAULT_OWNERSHIP, OwnershipPolicy

#: The canonical input of createCustomer/updateCustomer: `None` is "not given", "leave as is".
CustomerValues: TypeAlias = RecordChanges

ROOT: Final = "input"
DEFAULT_REGION: Final = "US"


class ProblemCode(StrEnum):
    REQUIRED = "REQUIRED"
    EMPTY = "EMPTY"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_URL = "INVALID_URL"
    INVALID_COUNTRY = "INVALID_COUNTRY"
    INVALID_STATE = "INVALID_STATE"
    INVALID_POSTAL_CODE = "INVALID_POSTAL_CODE"
    INVALID_STATUS = "INVALID_STATUS"
    TOO_LONG = "TOO_LONG"
    FORBIDDEN_CHARACTERS = "FORBIDDEN_CHARACTERS"
    NOT_A_CHOICE = "NOT_A_CHOICE"


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One thing wrong with the input; `system` is set when only that system would refuse the value."""

    path: tuple[str, ...]
    code: str
    message: str
    system: SystemName | None = None


@dataclass(frozen=True)
class ValidationResult:
    problems: list[InputProblem]
    #: The input as it would be written (only meaningful when `ok`).
    normalized: CustomerValues = field(default_factory=RecordChanges)

    @property
    def ok(self) -> bool:
        return not self.problems


SYSTEM_LABELS: Final[Mapping[SystemName, str]] = {
    SystemName.SHAREPOINT: "SharePoint",
    SystemName.TEAMWORK: "Teamwork",
    SystemName.QUICKBOOKS: "QuickBooks",
}

# --- reference data ---------------------------------------------------------------------------

#: ISO 3166-1 alpha-2, all 249 officially assigned codes.
ISO_COUNTRIES: Final = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT
BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH
ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT
HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS
LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI
NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG
SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG
UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
""".split())

#: Names and alpha-3 codes people type for the countries c360's customers are mostly in (folded keys).
COUNTRY_NAMES: Final[Mapping[str, str]] = {
    "united states": "US", "united states of america": "US", "usa": "US", "us": "US", "u s": "US",
    "u s a": "US", "america": "US", "canada": "CA", "can": "CA", "united kingdom": "GB", "uk": "GB",
    "u k": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "northern ireland": "GB", "gbr": "GB", "australia": "AU", "aus": "AU", "germany": "DE", "deutschland": "DE",
    "deu": "DE", "france": "FR", "fra": "FR", "netherlands": "NL", "the netherlands": "NL", "holland": "NL",
    "nederland": "NL", "nld": "NL", "ireland": "IE", "irl": "IE", "new zealand": "NZ", "nzl": "NZ",
    "mexico": "MX", "mex": "MX", "spain": "ES", "esp": "ES", "italy": "IT", "ita": "IT", "belgium": "BE",
    "switzerland": "CH", "austria": "AT", "sweden": "SE", "norway": "NO", "denmark": "DK", "finland": "FI",
    "portugal": "PT", "poland": "PL", "japan": "JP", "china": "CN", "india": "IN", "brazil": "BR",
    "singapore": "SG", "south africa": "ZA", "puerto rico": "PR",
}

#: USPS codes: the states, DC, the inhabited territories and the military "states".
US_STATES: Final[Mapping[str, str]] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "AS": "American Samoa", "GU": "Guam", "MP": "Northern Mariana Islands", "PR": "Puerto Rico",
    "VI": "Virgin Islands", "AA": "Armed Forces Americas", "AE": "Armed Forces Europe",
    "AP": "Armed Forces Pacific",
}
US_STATE_ALIASES: Final[Mapping[str, str]] = {
    "washington dc": "DC", "washington d c": "DC", "us virgin islands": "VI", "u s virgin islands": "VI",
}

CA_PROVINCES: Final[Mapping[str, str]] = {
    "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories", "NU": "Nunavut",
    "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec", "SK": "Saskatchewan", "YT": "Yukon",
}
CA_PROVINCE_ALIASES: Final[Mapping[str, str]] = {
    "newfoundland": "NL", "labrador": "NL", "pei": "PE", "yukon territory": "YT", "nwt": "NT", "pq": "QC",
}


def _fold(value: str) -> str:
    """Lower case, accents and punctuation gone, single spaces: "Québec" -> "quebec", "D.C." -> "d c"."""
    decomposed = unicodedata.normalize("NFKD", value)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower().replace("&", " and ")
    return " ".join(re.findall(r"[a-z0-9]+", plain))


def _region_table(codes: Mapping[str, str], aliases: Mapping[str, str]) -> Mapping[str, str]:
    table = {_fold(name): code for code, name in codes.items()}
    table.update(aliases)
    return table


#: Country -> (codes, folded name -> code) for the countries whose states are checked.
_STATES: Final[Mapping[str, tuple[Mapping[str, str], Mapping[str, str]]]] = {
    "US": (US_STATES, _region_table(US_STATES, US_STATE_ALIASES)),
    "CA": (CA_PROVINCES, _region_table(CA_PROVINCES, CA_PROVINCE_ALIASES)),
}

# Canada Post never uses D, F, I, O, Q or U, and no code starts with W or Z.
_CA_LETTER: Final = "ABCEGHJKLMNPRSTVWXYZ"
_CA_FIRST: Final = "ABCEGHJKLMNPRSTVXY"


def _spaced(match: re.Match[str]) -> str:
    return " ".join(match.groups())


def _zip(match: re.Match[str]) -> str:
    return "-".join(g for g in match.groups() if g)


@dataclass(frozen=True)
class _PostalRule:
    pattern: re.Pattern[str]
    written: Callable[[re.Match[str]], str]
    example: str


#: Postal code formats, matched against the code in upper case without spaces or hyphens.
POSTAL_RULES: Final[Mapping[str, _PostalRule]] = {
    "US": _PostalRule(re.compile(r"(\d{5})(\d{4})?"), _zip, "12345 or 12345-6789"),
    "CA": _PostalRule(re.compile(rf"([{_CA_FIRST}]\d[{_CA_LETTER}])(\d[{_CA_LETTER}]\d)"), _spaced, "K1A 0B1"),
    "GB": _PostalRule(re.compile(r"([A-Z]{1,2}\d[A-Z\d]?|GIR)(\d[A-Z]{2})"), _spaced, "SW1A 1AA"),
    "AU": _PostalRule(re.compile(r"(\d{4})"), _spaced, "2000"),
    "DE": _PostalRule(re.compile(r"(\d{5})"), _spaced, "10115"),
    "FR": _PostalRule(re.compile(r"(\d{5})"), _spaced, "75001"),
    "NL": _PostalRule(re.compile(r"([1-9]\d{3})((?!SA|SD|SS)[A-Z]{2})"), _spaced, "1012 AB"),
}

_HAS_SCHEME: Final = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_HOST_LABEL: Final = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


# --- the checks ---------------------------------------------------------------------------------


def validate_customer_input(
    values: CustomerValues,
    *,
    creating: bool,
    systems: Collection[SystemName],
    ownership: OwnershipPolicy = DEFAULT_OWNERSHIP,
    default_region: str = DEFAULT_REGION,
) -> ValidationResult:
    """Every problem of a create (`creating`) or update input, and the input normalized for writing.

    `systems` are the systems the customer is (or will be) linked to; a value is checked
    against the limits of those of them that `ownership` says receive it, and a limit
    problem names the system that would refuse the value. `default_region` reads phone
    numbers and addresses that give no country.
    """
    return _Validation(creating, frozenset(systems), ownership, default_region.upper()).run(values)


def _control_characters(value: str) -> list[str]:
    return sorted({c for c in value if unicodedata.category(c) == "Cc"})


class _Validation:
    def __init__(self, creating: bool, systems: frozenset[SystemName], ownership: OwnershipPolicy,
                 default_region: str) -> None:
        self.creating = creating
        self.systems = systems
        self.ownership = ownership
        self.default_region = default_region
        self.problems: list[InputProblem] = []

    def run(self, values: CustomerValues) -> ValidationResult:
        address = self.address(values.address)
        region = self.region_of(address)
        normalized = RecordChanges(
            name=self.name(values.name),
            person_name=self.person_name(values.person_name),
            email=self.email(values.email),
            phone=self.phone(values.phone, region),
            website=self.website(values.website),
            address=address,
            status=self.status(values.status),
        )
        # The address is checked first (the phone is read in its country); report in the input's order.
        problems = sorted(self.problems, key=lambda p: _FIELD_ORDER.index(p.path[1]))
        return ValidationResult(problems=problems, normalized=normalized)

    # --- recording -------------------------------------------------------------------------

    def problem(self, path: tuple[str, ...], code: ProblemCode, message: str,
                system: SystemName | None = None) -> None:
        self.problems.append(InputProblem(path=(ROOT, *path), code=code.value,
                                          message=f"{'.'.join((ROOT, *path))}: {message}", system=system))

    def text(self, path: tuple[str, ...], value: str) -> None:
        """Refuse control characters (line breaks, tabs, ...): no system keeps them in these fields."""
        bad = _control_characters(value)
        if bad:
            self.problem(path, ProblemCode.FORBIDDEN_CHARACTERS,
                         f"contains control characters ({', '.join(map(repr, bad))}), which no system accepts here")

    def limits(self, path: tuple[str, ...], value: str) -> None:
        """The limits of each receiving system that has a field for this path."""
        attribute = ".".join(path)
        for system in sorted(self.ownership.systems_to_write(attribute, self.systems)):
            limit = write_limits(system).get(attribute)
            if limit is None:
                continue
            label = SYSTEM_LABELS.get(system, system.value)
            if limit.max_length is not None and len(value) > limit.max_length:
                self.problem(path, ProblemCode.TOO_LONG,
                             f"is {len(value)} characters long; {label} accepts at most {limit.max_length} here",
                             system)
            if limit.choices is not None and value not in limit.choices:
                self.problem(path, ProblemCode.NOT_A_CHOICE,
                             f"{value!r} is not one of {label}'s choices here ({', '.join(sorted(limit.choices))})",
                             system)
            refused = sorted({c for c in value if c in limit.forbidden} - set(_control_characters(value)))
            if refused:
                self.problem(path, ProblemCode.FORBIDDEN_CHARACTERS,
                             f"contains {', '.join(map(repr, refused))}, which {label} does not accept here", system)

    def checked_text(self, path: tuple[str, ...], value: str) -> str:
        self.text(path, value)
        self.limits(path, value)
        return value

    def blank(self, value: str | None) -> str | None:
        """The stripped value; "" when blank on update (clear it), None when blank on create (nothing to clear)."""
        if value is None:
            return None
        stripped = value.strip()
        if stripped:
            return stripped
        return None if self.creating else ""

    # --- attributes ------------------------------------------------------------------------

    def name(self, value: str | None) -> str | None:
        stripped = value.strip() if value is not None else None
        if not stripped:
            if self.creating:
                self.problem(("name",), ProblemCode.REQUIRED, "a name is required to create a customer")
            elif stripped is not None:
                self.problem(("name",), ProblemCode.EMPTY, "the name can't be cleared; give the new name")
            return None
        return self.checked_text(("name",), stripped)

    def person_name(self, value: PersonName | None) -> PersonName | None:
        if value is None:
            return None
        given = value.given.strip() if value.given is not None else None
        family = value.family.strip() if value.family is not None else None
        if given:
            self.checked_text(("personName", "given"), given)
        if family:
            self.checked_text(("personName", "family"), family)
        if not given and not family:
            return None if self.creating else PersonName()  # both blank: clear the person's name
        return PersonName(given or None, family or None)

    def email(self, value: str | None) -> str | None:
        cleaned = self.blank(value)
        if not cleaned:
            return cleaned
        try:
            # Syntax only: a mutation must not wait on DNS, and a new domain may not resolve yet.
            normalized = validate_email(cleaned, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            self.problem(("email",), ProblemCode.INVALID_EMAIL, f"{cleaned!r} is not a valid email address: {exc}")
            return cleaned
        return self.checked_text(("email",), normalized)

    def phone(self, value: str | None, region: str) -> str | None:
        cleaned = self.blank(value)
        if not cleaned:
            return cleaned
        try:
            number = phonenumbers.parse(cleaned, region)
            valid = phonenumbers.is_valid_number(number)
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            self.problem(("phone",), ProblemCode.INVALID_PHONE,
                         f"{cleaned!r} is not a valid phone number (read as a {region} number; "
                         "numbers elsewhere need their country code, e.g. +44 20 7946 0958)")
            return cleaned
        formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        return self.checked_text(("phone",), formatted)

    def website(self, value: str | None) -> str | None:
        cleaned = self.blank(value)
        if not cleaned:
            return cleaned
        normalized = _normalize_url(cleaned)
        if normalized is None:
            self.problem(("website",), ProblemCode.INVALID_URL,
                         f"{cleaned!r} is not a web address (http or https with a host name, e.g. https://example.com)")
            return cleaned
        return self.checked_text(("website",), normalized)

    def status(self, value: CustomerStatus | None) -> CustomerStatus | None:
        if self.creating and value is None:
            return CustomerStatus.LEAD
        if self.creating and value is CustomerStatus.INACTIVE:
            self.problem(("status",), ProblemCode.INVALID_STATUS, "a new customer is a lead or active, not inactive")
        elif value is not None:
            self.limits(("status",), value.value)  # e.g. the CRM's choice column has no "inactive"
        return value

    def address(self, value: Address | None) -> Address | None:
        if value is None:
            return None
        parts = {name: self.blank(getattr(value, attr)) or None for name, attr in _ADDRESS_PARTS}
        if not any(parts.values()):
            return None if self.creating else Address()  # every part blank: clear the address
        for name, part in parts.items():
            if part is not None:
                self.text(("address", name), part)
        country = self.country(parts["country"])
        # With a country that is not one, no country's rules apply (its problem is reported already).
        where = country if parts["country"] is not None else self.inferred_country(parts["state"])
        state = self.state(parts["state"], where, given=country is not None)
        postal = self.postal_code(parts["postalCode"], where)
        for name in ("line1", "city"):
            if parts[name] is None:
                self.problem(("address", name), ProblemCode.REQUIRED, f"an address needs its {_PART_WORDS[name]}")
        if where in _STATES:
            for name, part in (("state", parts["state"]), ("postalCode", parts["postalCode"])):
                if part is None:
                    self.problem(("address", name), ProblemCode.REQUIRED,
                                 f"an address in {where} needs its {_PART_WORDS[name]}")
        normalized = {**parts, "country": country or parts["country"], "state": state, "postalCode": postal}
        for name, part in normalized.items():
            if part is not None and not (name == "country" and country is None):
                self.limits(("address", name), part)
        return Address(**{attr: normalized[name] for name, attr in _ADDRESS_PARTS})

    def country(self, value: str | None) -> str | None:
        if value is None:
            return None
        code = _country_code(value)
        if code is None:
            self.problem(("address", "country"), ProblemCode.INVALID_COUNTRY,
                         f"{value!r} is not a country: give its ISO 3166-1 alpha-2 code (e.g. US, CA, GB)")
        return code

    def inferred_country(self, state: str | None) -> str:
        """Without a country: the US or Canada when the state says so, else the default region."""
        if state is not None:
            for country, (codes, names) in _STATES.items():
                if _state_code(state, codes, names) is not None:
                    return country
        return self.default_region

    def state(self, value: str | None, country: str | None, *, given: bool) -> str | None:
        if value is None or country is None or country not in _STATES:
            return value
        codes, names = _STATES[country]
        code = _state_code(value, codes, names)
        if code is None:
            kind = "province or territory of Canada" if country == "CA" else "US state or territory"
            hint = "" if given else f" (no country was given, so {country} was assumed)"
            self.problem(("address", "state"), ProblemCode.INVALID_STATE, f"{value!r} is not a {kind}{hint}")
            return value
        return code

    def postal_code(self, value: str | None, country: str | None) -> str | None:
        rule = POSTAL_RULES.get(country or "")
        if value is None or rule is None:
            return value
        compact = re.sub(r"[\s-]+", "", value.upper())
        match = rule.pattern.fullmatch(compact)
        if match is None:
            self.problem(("address", "postalCode"), ProblemCode.INVALID_POSTAL_CODE,
                         f"{value!r} is not a postal code of {country} (e.g. {rule.example})")
            return value
        return rule.written(match)

    def region_of(self, address: Address | None) -> str:
        """Where phone numbers without a country code are read: the address's country, else the default."""
        if address is None:
            return self.default_region
        if address.country in ISO_COUNTRIES:
            return address.country if address.country in phonenumbers.SUPPORTED_REGIONS else self.default_region
        return self.inferred_country(address.state)


_FIELD_ORDER: Final = ("name", "personName", "email", "phone", "website", "address", "status")
#: GraphQL name of each address part, and the `Address` attribute it fills.
_ADDRESS_PARTS: Final = (
    ("line1", "line1"), ("line2", "line2"), ("city", "city"), ("state", "state"),
    ("postalCode", "postal_code"), ("country", "country"),
)
_PART_WORDS: Final = {"line1": "first line", "city": "city", "state": "state or province",
                      "postalCode": "postal code"}


def _country_code(value: str) -> str | None:
    letters = value.strip().upper()
    if len(letters) == 2 and letters in ISO_COUNTRIES:
        return letters
    return COUNTRY_NAMES.get(_fold(value))


def _state_code(value: str, codes: Mapping[str, str], names: Mapping[str, str]) -> str | None:
    compact = re.sub(r"[\s.]", "", value).upper()
    if len(compact) == 2 and compact in codes:
        return compact
    return names.get(_fold(value))


def _normalize_url(value: str) -> str | None:
    """An http(s) URL with a host name; "example.com" gets https:// in front. None when it is not one."""
    if any(c.isspace() for c in value):
        return None
    candidate = value if _HAS_SCHEME.match(value) else f"https://{value}"
    try:
        parts = urlsplit(candidate)
        host = parts.hostname
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        return None
    # No user:password@ in a customer's website.
    if parts.scheme.lower() not in ("http", "https") or not host or "@" in parts.netloc:
        return None
    try:
        labels = host.encode("idna").decode("ascii").rstrip(".").split(".")
    except UnicodeError:
        return None
    if len(labels) < 2 or labels[-1].isdigit() or not all(_HOST_LABEL.match(label) for label in labels):
        return None
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, parts.fragment))
