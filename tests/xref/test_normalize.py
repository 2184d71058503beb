"""Normalization: one table per rule, and whole records turned into MatchRecords."""

from __future__ import annotations

import pytest

from connectors import Address, PersonName, SourceRecord, SystemName
from xref._match_types import MatchRecord, PartyKind
from xref.normalize import (
    name_tokens,
    normalize_city,
    normalize_company_name,
    normalize_email,
    normalize_person_name,
    normalize_person_parts,
    normalize_phone,
    normalize_postal_code,
    normalize_record,
    normalize_state,
    normalize_street,
    party_kind,
    website_domain,
)

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bill's Windsurf Shop", "bills windsurf shop"),
        ("BILLS WINDSURF SHOP", "bills windsurf shop"),
        ("  Bills  Windsurf Shop ", "bills windsurf shop"),
        ("Smith & Jones", "smith and jones"),
        ("Smith + Jones", "smith and jones"),
        ("Smith and Jones", "smith and jones"),
        ("Acme Inc", "acme"),
        ("Acme, Inc.", "acme"),
        ("Acme INC", "acme"),
        ("Acme Incorporated", "acme"),
        ("Acme LLC", "acme"),
        ("Acme L.L.C.", "acme"),
        ("Acme, LLC", "acme"),
        ("Acme Llc", "acme"),
        ("Acme Ltd.", "acme"),
        ("Acme Limited", "acme"),
        ("Acme Corp.", "acme"),
        ("Acme Corporation", "acme"),
        ("Acme, Corp.", "acme"),
        ("Acme Co.", "acme"),
        ("Acme Company", "acme"),
        ("Acme LLP", "acme"),
        ("Acme L.L.P.", "acme"),
        ("Acme P.C.", "acme"),
        ("Acme, PC", "acme"),
        ("Acme Co., Inc.", "acme"),
        ("Smith & Co.", "smith"),
        ("The Golden Peak", "golden peak"),
        ("the golden peak", "golden peak"),
        ("The", "the"),
        ("Café Zoë", "cafe zoe"),
        ("Crème Brûlée Bakery", "creme brulee bakery"),
        ("Coastal Co-op", "coastal co op"),
        ("Acme (2)", "acme"),
        ("Inc.", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_company_name(raw: str | None, expected: str | None) -> None:
    assert normalize_company_name(raw) == expected


@pytest.mark.parametrize(
    ("normalized", "expected"),
    [("smith and jones", ("and", "jones", "smith")), ("surf surf shop", ("shop", "surf")), ("", ()), (None, ())],
)
def test_name_tokens_are_distinct_and_sorted(normalized: str | None, expected: tuple[str, ...]) -> None:
    assert name_tokens(normalized) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("John Smith", ("john", "smith")),
        ("Smith, John", ("john", "smith")),
        ("SMITH, JOHN A.", ("john", "smith")),
        ("john smith", ("john", "smith")),
        ("John A. Smith", ("john", "smith")),
        ("John Paul Smith", ("john", "smith")),
        ("J. Smith", ("j", "smith")),
        ("Dr. John Smith Jr.", ("john", "smith")),
        ("Smith, John, Jr.", ("john", "smith")),
        ("John Smith, Jr.", ("john", "smith")),
        ("Bill Smith", ("william", "smith")),
        ("Pat Smith", ("pat", "smith")),
        ("Sean O'Connell", ("sean", "oconnell")),
        ("Mary-Kate Olsen", ("marykate", "olsen")),
        ("Ludwig van Beethoven", ("ludwig", "van beethoven")),
        ("José Núñez", ("jose", "nunez")),
        ("Cher", (None, "cher")),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_normalize_person_name(raw: str | None, expected: tuple[str | None, str | None]) -> None:
    assert normalize_person_name(raw) == expected


@pytest.mark.parametrize(
    ("person", "expected"),
    [
        (PersonName("John", "Smith"), ("john", "smith")),
        (PersonName("John A.", "SMITH"), ("john", "smith")),
        (PersonName("Bob", None), ("robert", None)),
        (PersonName(None, "Van Buren"), (None, "van buren")),
        (None, (None, None)),
    ],
)
def test_normalize_person_parts(person: PersonName | None, expected: tuple[str | None, str | None]) -> None:
    assert normalize_person_parts(person) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("surf@billswind.com", ("surf@billswind.com", "billswind.com")),
        ("  Surf@BillsWind.COM  ", ("surf@billswind.com", "billswind.com")),
        ("mailto:surf@billswind.com", ("surf@billswind.com", "billswind.com")),
        ("MAILTO: Surf@billswind.com", ("surf@billswind.com", "billswind.com")),
        ("Bill <surf@billswind.com>", ("surf@billswind.com", "billswind.com")),
        ("maria.lopez@gmail.com", ("maria.lopez@gmail.com", None)),
        ("Maria.Lopez@Yahoo.com", ("maria.lopez@yahoo.com", None)),
        ("m@hotmail.com", ("m@hotmail.com", None)),
        ("m@outlook.com", ("m@outlook.com", None)),
        ("m@aol.com", ("m@aol.com", None)),
        ("m@icloud.com", ("m@icloud.com", None)),
        ("m@proton.me", ("m@proton.me", None)),
        ("m@comcast.net", ("m@comcast.net", None)),
        ("not-an-email", (None, None)),
        ("@billswind.com", (None, None)),
        ("a b@billswind.com", (None, None)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_normalize_email(raw: str | None, expected: tuple[str | None, str | None]) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(415) 444-6538", "+14154446538"),
        ("415-444-6538", "+14154446538"),
        ("+1 415 444 6538", "+14154446538"),
        ("4154446538", "+14154446538"),
        ("415.444.6538 x12", "+14154446538"),
        ("1-415-444-6538", "+14154446538"),
        ("(415) 444-6538 ext. 301", "+14154446538"),
        ("415-444-6538 ext 7", "+14154446538"),
        ("415-444-6538 x.7", "+14154446538"),
        ("+44 20 7946 0958", "+442079460958"),
        ("1-800-FLOWERS", "+18003569377"),
        ("555-1234", None),
        ("call me", None),
        ("   ", None),
        (None, None),
    ],
)
def test_normalize_phone_to_e164(raw: str | None, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


def test_normalize_phone_region_is_configurable() -> None:
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalize_phone("020 7946 0958") is None


@pytest.mark.parametrize(
    ("line1", "line2", "expected"),
    [
        ("12 Ocean Street", None, ("12 ocean st", None)),
        ("12 Ocean St.", None, ("12 ocean st", None)),
        ("12 Ocean Avenue", None, ("12 ocean ave", None)),
        ("12 Ocean Road", None, ("12 ocean rd", None)),
        ("12 Ocean Drive", None, ("12 ocean dr", None)),
        ("12 Ocean Boulevard", None, ("12 ocean blvd", None)),
        ("12 Ocean Lane", None, ("12 ocean ln", None)),
        ("12 Ocean Court", None, ("12 ocean ct", None)),
        ("12 Ocean Place", None, ("12 ocean pl", None)),
        ("12 Ocean Parkway", None, ("12 ocean pkwy", None)),
        ("12 North Ocean Dr.", None, ("12 n ocean dr", None)),
        ("12 N. Ocean Dr", None, ("12 n ocean dr", None)),
        ("12 Second Street", None, ("12 2nd st", None)),
        ("12 2nd St", None, ("12 2nd st", None)),
        ("12 Ocean Dr", "Suite 4", ("12 ocean dr", "4")),
        ("12 Ocean Dr", "Ste. 4", ("12 ocean dr", "4")),
        ("12 Ocean Dr", "#4", ("12 ocean dr", "4")),
        ("12 Ocean Dr", "Unit 4B", ("12 ocean dr", "4b")),
        ("12 Ocean Dr", "Apt 4", ("12 ocean dr", "4")),
        ("12 Ocean Dr., Suite 4", None, ("12 ocean dr", "4")),
        ("12 Ocean Dr #4", None, ("12 ocean dr", "4")),
        ("12 Ocean Dr, Bldg 2, Ste 100", None, ("12 ocean dr", "2 100")),
        ("12 Ocean Dr", "4", ("12 ocean dr", "4")),
        ("12 Ocean Dr", "Attn: Accounts Payable", ("12 ocean dr", None)),
        (None, "Suite 4", (None, "4")),
        (None, None, (None, None)),
    ],
)
def test_normalize_street(line1: str | None, line2: str | None, expected: tuple[str | None, str | None]) -> None:
    assert normalize_street(line1, line2) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CA", "CA"),
        ("ca", "CA"),
        ("California", "CA"),
        ("CALIFORNIA", "CA"),
        ("Calif.", "CA"),
        ("New York", "NY"),
        ("N.Y.", "NY"),
        ("North Carolina", "NC"),
        ("West Virginia", "WV"),
        ("District of Columbia", "DC"),
        ("Washington, D.C.", "DC"),
        ("Washington", "WA"),
        ("Puerto Rico", "PR"),
        ("Atlantis", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_state(raw: str | None, expected: str | None) -> None:
    assert normalize_state(raw) == expected


_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho",
    "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
    "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia",
    "WI": "Wisconsin", "WY": "Wyoming", "DC": "District of Columbia",
}


@pytest.mark.parametrize(("code", "name"), sorted(_STATES.items()))
def test_every_state_name_and_code_gives_the_code(code: str, name: str) -> None:
    assert normalize_state(name) == code
    assert normalize_state(code) == code


@pytest.mark.parametrize(
    ("raw", "state", "country", "expected"),
    [
        ("94019", None, None, "94019"),
        ("94019-1234", None, None, "94019"),
        ("940191234", None, None, "94019"),
        (" 94019 ", None, None, "94019"),
        ("2134", "MA", None, "02134"),
        ("2134-0001", "Massachusetts", None, "02134"),
        ("7030", "NJ", None, "07030"),
        ("9401", "CA", None, None),
        ("9401", None, None, None),
        ("SW1A 1AA", None, None, None),
        ("sw1a 1aa", None, "GB", "SW1A1AA"),
        ("94019", None, "USA", "94019"),
        ("94019-1234", None, "United States", "94019"),
        ("", None, None, None),
        (None, None, None, None),
    ],
)
def test_normalize_postal_code(raw: str | None, state: str | None, country: str | None, expected: str | None) -> None:
    assert normalize_postal_code(raw, state, country) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Half Moon Bay", "half moon bay"),
        ("HALF MOON BAY", "half moon bay"),
        ("St. Paul", "saint paul"),
        ("Saint Paul", "saint paul"),
        ("Ft. Lauderdale", "fort lauderdale"),
        ("San José", "san jose"),
        ("", None),
        (None, None),
    ],
)
def test_normalize_city(raw: str | None, expected: str | None) -> None:
    assert normalize_city(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://billswind.com", "billswind.com"),
        ("https://www.billswind.com", "billswind.com"),
        ("http://www.BillsWind.com/about/team?x=1", "billswind.com"),
        ("www.billswind.com", "billswind.com"),
        ("billswind.com", "billswind.com"),
        ("billswind.com:8080/", "billswind.com"),
        ("shop.billswind.com", "shop.billswind.com"),
        ("n/a", None),
        ("", None),
        (None, None),
    ],
)
def test_website_domain(raw: str | None, expected: str | None) -> None:
    assert website_domain(raw) == expected


@pytest.mark.parametrize(
    ("name", "person", "expected"),
    [
        ("Maria Lopez", None, PartyKind.PERSON),
        ("Lopez, Maria", None, PartyKind.PERSON),
        ("Maria J. Lopez", None, PartyKind.PERSON),
        (None, PersonName("Maria", "Lopez"), PartyKind.PERSON),
        ("Maria Lopez", PersonName("Maria", "Lopez"), PartyKind.PERSON),
        ("M. Lopez", PersonName("Maria", "Lopez"), PartyKind.PERSON),
        ("Bill Smyth", PersonName("William", "Smith"), PartyKind.PERSON),
        ("Lopez Consulting", None, PartyKind.COMPANY),
        ("Maria's Flower Shop", None, PartyKind.COMPANY),
        ("Lopez Group", None, PartyKind.COMPANY),
        ("Lopez Studio", None, PartyKind.COMPANY),
        ("Lopez Services", None, PartyKind.COMPANY),
        ("Maria Lopez LLC", None, PartyKind.COMPANY),
        ("The Golden Peak", None, PartyKind.COMPANY),
        ("KLM Dental", None, PartyKind.COMPANY),
        ("PD Partners", None, PartyKind.COMPANY),
        ("Coastal Co-op", None, PartyKind.COMPANY),
        ("Blue Harbor", PersonName("Maria", "Lopez"), PartyKind.COMPANY),
        ("Golden Peak", None, PartyKind.UNKNOWN),
        ("Smith & Jones", None, PartyKind.UNKNOWN),
        ("Acme", None, PartyKind.UNKNOWN),
        (None, None, PartyKind.UNKNOWN),
    ],
)
def test_party_kind(name: str | None, person: PersonName | None, expected: PartyKind) -> None:
    assert party_kind(name, person) == expected


def test_a_company_record_keeps_its_name_and_its_contact() -> None:
    record = SourceRecord(
        system=QB,
        id="58",
        name="Bill's Windsurf Shop, Inc.",
        person_name=PersonName("Bill", "Jones"),
        email="Billing@BillsWind.com ",
        phone="(415) 444-6538 x12",
        address=Address("12 Ocean Drive, Suite 4", None, "Half Moon Bay", "California", "94019-1234", "USA"),
        website="https://www.billswind.com/",
    )
    assert normalize_record(record, 3) == MatchRecord(
        index=3,
        system=QB,
        record_id="58",
        kind=PartyKind.COMPANY,
        name="bills windsurf shop",
        name_tokens=("bills", "shop", "windsurf"),
        given="william",
        family="jones",
        email="billing@billswind.com",
        email_domain="billswind.com",
        phone="+14154446538",
        street="12 ocean dr",
        unit="4",
        city="half moon bay",
        state="CA",
        postal="94019",
        website_domain="billswind.com",
    )


def test_a_person_is_named_given_then_family_whichever_way_it_was_typed() -> None:
    crm = normalize_record(SourceRecord(system=SP, id="1", name="Lopez, Maria", email="Maria.Lopez@gmail.com"), 0)
    books = normalize_record(SourceRecord(system=QB, id="9", name="Maria Lopez", person_name=PersonName("Maria", "Lopez")), 1)

    assert (crm.kind, crm.name, crm.given, crm.family) == (PartyKind.PERSON, "maria lopez", "maria", "lopez")
    assert (books.kind, books.name, books.given, books.family) == (PartyKind.PERSON, "maria lopez", "maria", "lopez")
    assert crm.name_tokens == books.name_tokens == ("lopez", "maria")
    assert (crm.email, crm.email_domain) == ("maria.lopez@gmail.com", None)


def test_a_record_with_nothing_but_an_id_normalizes_to_empty_values() -> None:
    record = normalize_record(SourceRecord(system=TW, id="195001"), 0)
    assert record == MatchRecord(index=0, system=TW, record_id="195001")


def test_phones_are_read_in_the_given_region() -> None:
    record = SourceRecord(system=TW, id="7", name="Tea Shop", phone="020 7946 0958")
    assert normalize_record(record, 0).phone is None
    assert normalize_record(record, 0, region="GB").phone == "+442079460958"
