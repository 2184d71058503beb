"""Comparators: small tables of already-normalized pairs and the level each must give."""

from __future__ import annotations

from typing import Any

import pytest

from connectors import SystemName
from xref._match_types import MatchRecord, PartyKind
from xref.scoring import (
    LEVELS,
    ONE_CUSTOMER_COPIES,
    ValueFrequencies,
    compare_address,
    compare_city,
    compare_company_names,
    compare_domain,
    compare_email,
    compare_name,
    compare_person_names,
    compare_phone,
    compare_postal,
)


def make_record(index: int = 0, system: str = "quickbooks", **values: Any) -> MatchRecord:
    return MatchRecord(index=index, system=SystemName(system), record_id=str(index), **values)


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("bills windsurf shop", "bills windsurf shop", "exact"),
        ("windsurf shop bills", "bills windsurf shop", "high"),
        ("acme", "acme plumbing", "high"),
        ("bills windsurf shop", "bils windsurf shop", "high"),
        ("smith plumbing", "smith electric", "low"),
        ("acme plumbing", "zenith bakery", "disagree"),
    ],
)
def test_company_names(a: str, b: str, level: str) -> None:
    assert compare_company_names(a, b) == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        (("john", "smith"), ("john", "smith"), "exact"),
        (("john", "smith"), ("smith", "john"), "exact"),  # parts swapped by one system
        (("j", "smith"), ("john", "smith"), "high"),  # an initial
        (("jon", "smith"), ("john", "smith"), "high"),
        (("john", "smyth"), ("john", "smith"), "high"),
        (("mary", "smith"), ("john", "smith"), "medium"),
        (("k", "smith"), ("john", "smith"), "medium"),  # initial that does not fit
        (("john", "smith"), ("mary", "jones"), "disagree"),
    ],
)
def test_person_names(a: tuple[str, str], b: tuple[str, str], level: str) -> None:
    assert compare_person_names(a[0], a[1], b[0], b[1]) == level
    assert compare_person_names(b[0], b[1], a[0], a[1]) == level


def test_name_uses_person_parts_only_when_both_sides_have_them() -> None:
    person = make_record(kind=PartyKind.PERSON, name="john smith", given="john", family="smith")
    other = make_record(kind=PartyKind.PERSON, name="j smith", given="j", family="smith")
    company = make_record(kind=PartyKind.COMPANY, name="smith john")
    assert compare_name(person, other) == "high"
    assert compare_name(person, company) == "high"  # token set: order ignored
    assert compare_name(person, make_record()) is None
    glued = make_record(name="jeansframe works")
    assert compare_name(glued, make_record(name="jeans frame works")) == "high"


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        (("ann@acme.com", "acme.com"), ("ann@acme.com", "acme.com"), "exact"),
        (("ann@gmail.com", None), ("ann@acme.com", "acme.com"), "local"),
        (("bob@acme.com", "acme.com"), ("ann@acme.com", "acme.com"), "domain"),
        (("bob@gmail.com", None), ("ann@gmail.com", None), "disagree"),  # free mail: no company signal
        (("bob@acme.com", "acme.com"), ("ann@zenith.com", "zenith.com"), "disagree"),
        ((None, None), ("ann@acme.com", "acme.com"), None),
    ],
)
def test_email(a: tuple[str | None, str | None], b: tuple[str | None, str | None], level: str | None) -> None:
    ra = make_record(email=a[0], email_domain=a[1])
    rb = make_record(email=b[0], email_domain=b[1])
    assert compare_email(ra, rb) == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("+14154446538", "+14154446538", "exact"),
        ("+16504446538", "+14154446538", "last7"),
        ("+14154446539", "+14154446538", "disagree"),
        (None, "+14154446538", None),
    ],
)
def test_phone(a: str | None, b: str | None, level: str | None) -> None:
    assert compare_phone(make_record(phone=a), make_record(phone=b)) == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        (("12 ocean dr", "ste 4"), ("12 ocean dr", "ste 4"), "exact"),
        (("12 ocean dr", None), ("12 ocean dr", None), "exact"),
        (("12 ocean dr", None), ("12 ocean dr", "ste 4"), "high"),
        (("12 ocaen dr", None), ("12 ocean dr", None), "high"),
        (("12 ocean dr", "ste 5"), ("12 ocean dr", "ste 4"), "unit_conflict"),
        (("14 ocean dr", None), ("12 ocean dr", None), "disagree"),  # another house number
        (("12 market st", None), ("12 ocean dr", None), "disagree"),
        ((None, "ste 4"), ("12 ocean dr", "ste 4"), None),
    ],
)
def test_address(a: tuple[str | None, str | None], b: tuple[str | None, str | None], level: str | None) -> None:
    ra = make_record(street=a[0], unit=a[1])
    rb = make_record(street=b[0], unit=b[1])
    assert compare_address(ra, rb) == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [("94213", "94213", "exact"), ("94219", "94213", "prefix3"), ("10001", "94213", "disagree"), (None, "94213", None)],
)
def test_postal(a: str | None, b: str | None, level: str | None) -> None:
    assert compare_postal(make_record(postal=a), make_record(postal=b)) == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        (("half moon bay", "CA"), ("half moon bay", "CA"), "exact"),
        (("half moon bay", None), ("half moon bay", "CA"), "exact"),
        (("pacifica", "CA"), ("half moon bay", "CA"), "state"),
        ((None, "CA"), ("half moon bay", "CA"), "state"),
        (("springfield", "IL"), ("springfield", "MO"), "disagree"),
        ((None, None), ("half moon bay", "CA"), None),
    ],
)
def test_city(a: tuple[str | None, str | None], b: tuple[str | None, str | None], level: str | None) -> None:
    assert compare_city(make_record(city=a[0], state=a[1]), make_record(city=b[0], state=b[1])) == level


def test_domain_compares_websites_and_website_with_email_domain_only() -> None:
    site = make_record(website_domain="acme.com")
    assert compare_domain(site, make_record(website_domain="acme.com")) == "exact"
    assert compare_domain(site, make_record(email="a@acme.com", email_domain="acme.com")) == "exact"
    assert compare_domain(site, make_record(website_domain="zenith.com")) == "disagree"
    # two email domains are the email comparator's business, not counted twice
    both_mail = make_record(email="a@acme.com", email_domain="acme.com")
    assert compare_domain(both_mail, both_mail) is None


def test_level_sets_are_small() -> None:
    assert all(2 <= len(levels) <= 5 for levels in LEVELS.values())


def test_value_frequencies_count_each_record_once_per_value() -> None:
    shared = ONE_CUSTOMER_COPIES + 2
    records = [
        *(make_record(i, name="smith", email="a@acme.com", email_domain="acme.com", website_domain="acme.com")
          for i in range(shared)),
        make_record(shared, name="zenith"),
    ]
    freq = ValueFrequencies.from_records(records)
    assert freq.total == shared + 1
    # Email and website domain of one record count once.
    assert freq.share("domain", "acme.com") == pytest.approx(2 / (shared + 1))
    assert freq.share("name", "smith") == pytest.approx(2 / (shared + 1))
    assert freq.share("phone", "+10000000000") == 0.0


def test_a_value_held_by_one_customers_records_is_not_common() -> None:
    records = [make_record(i, name="acme") for i in range(ONE_CUSTOMER_COPIES)] + [make_record(9, name="zed")]
    assert ValueFrequencies.from_records(records).share("name", "acme") == 0.0
