"""Customer input validation: every rule with input that fails and input that passes."""

from __future__ import annotations

import pytest

from connectors import Address, CustomerStatus, FieldLimit, PersonName, RecordChanges, SystemName, write_limits
from connectors._write_limits import ATTRIBUTE_PATHS
from resolvers.input_validation import (
    CustomerValues,
    InputProblem,
    ValidationResult,
    validate_customer_input,
)
from resolvers.ownership import Ownership, OwnershipPolicy

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS
ALL = frozenset(SystemName)
US_ADDRESS = Address(line1="12 Ocean Dr.", city="Half Moon Bay", state="CA", postal_code="94213", country="US")


def create(systems: frozenset[SystemName] = ALL, **values: object) -> ValidationResult:
    values.setdefault("name", "Bill's Windsurf Shop")
    return validate_customer_input(CustomerValues(**values), creating=True, systems=systems)  # type: ignore[arg-type]


def update(systems: frozenset[SystemName] = ALL, **values: object) -> ValidationResult:
    return validate_customer_input(CustomerValues(**values), creating=False, systems=systems)  # type: ignore[arg-type]


def codes(result: ValidationResult) -> list[tuple[tuple[str, ...], str]]:
    return [(p.path, p.code) for p in result.problems]


def only(result: ValidationResult) -> InputProblem:
    assert len(result.problems) == 1, result.problems
    return result.problems[0]


# --- all problems at once -----------------------------------------------------------------------


def test_a_bad_create_returns_all_five_problems_with_their_paths() -> None:
    result = validate_customer_input(
        RecordChanges(
            email="surf@@example",
            phone="555-12",
            address=Address(line1="1 Main St", city="Springfield", state="ZZ", postal_code="1234", country="US"),
        ),
        creating=True,
        systems=ALL,
    )
    assert codes(result) == [
        (("input", "name"), "REQUIRED"),
        (("input", "email"), "INVALID_EMAIL"),
        (("input", "phone"), "INVALID_PHONE"),
        (("input", "address", "state"), "INVALID_STATE"),
        (("input", "address", "postalCode"), "INVALID_POSTAL_CODE"),
    ]
    assert not result.ok
    for problem in result.problems:
        assert problem.message.startswith(".".join(problem.path) + ": ")


def test_a_good_create_passes_and_is_normalized() -> None:
    result = create(
        email="Surf@EXAMPLE.com",
        phone="(415) 444-6538",
        website="windsurf.example.com",
        address=Address(line1=" 12 Ocean Dr. ", city="Half Moon Bay", state="california", postal_code="94213 1234",
                        country="United States"),
    )
    assert result.ok, result.problems
    n = result.normalized
    assert n.name == "Bill's Windsurf Shop"
    assert n.email == "Surf@example.com"
    assert n.phone == "+1 415-444-6538"
    assert n.website == "https://windsurf.example.com"
    assert n.address == Address(line1="12 Ocean Dr.", city="Half Moon Bay", state="CA", postal_code="94213-1234",
                                country="US")
    assert n.status is CustomerStatus.LEAD


# --- name, status ---------------------------------------------------------------------------------


def test_name_is_required_on_create_and_cannot_be_cleared_on_update() -> None:
    assert codes(create(name=None)) == [(("input", "name"), "REQUIRED")]
    assert codes(create(name="   ")) == [(("input", "name"), "REQUIRED")]
    assert codes(update(name="")) == [(("input", "name"), "EMPTY")]
    assert update(name=None).ok  # not given: left as is
    assert update(name="  New Name ").normalized.name == "New Name"


def test_control_characters_are_refused_everywhere() -> None:
    problem = only(update(name="Acme\nInc"))
    assert (problem.path, problem.code, problem.system) == (("input", "name"), "FORBIDDEN_CHARACTERS", None)
    assert "'\\n'" in problem.message
    assert update(name="Acme Inc").ok


def test_status_defaults_to_lead_on_create_and_a_new_customer_is_not_inactive() -> None:
    assert create().normalized.status is CustomerStatus.LEAD
    assert create(status=CustomerStatus.ACTIVE).normalized.status is CustomerStatus.ACTIVE
    assert codes(create(status=CustomerStatus.INACTIVE)) == [(("input", "status"), "INVALID_STATUS")]
    assert update().normalized.status is None  # an update leaves the status alone unless given


def test_a_status_the_crm_choice_column_lacks_is_refused_where_the_crm_would_receive_it() -> None:
    [problem] = update(status=CustomerStatus.INACTIVE).problems
    assert (problem.path, problem.code, problem.system) == (("input", "status"), "NOT_A_CHOICE", SystemName.SHAREPOINT)
    assert "(active, lead)" in problem.message
    assert update(status=CustomerStatus.ACTIVE).ok
    # A customer with no CRM record: QuickBooks keeps inactive (Active: false).
    assert update(frozenset({SystemName.QUICKBOOKS, SystemName.TEAMWORK}), status=CustomerStatus.INACTIVE).ok


# --- email, phone, website ------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["plainaddress", "a@b", "a b@example.com", "surf@example..com", "@example.com"])
def test_invalid_emails_are_refused(email: str) -> None:
    problem = only(update(email=email))
    assert (problem.path, problem.code) == (("input", "email"), "INVALID_EMAIL")
    assert repr(email) in problem.message


def test_valid_emails_are_normalized_without_dns() -> None:
    # A domain that cannot resolve still passes: syntax only, no network.
    assert update(email="Ann.Lee+crm@Acme-Widgets.INVALID-TLD-NOT-CHECKED.com").normalized.email == (
        "Ann.Lee+crm@acme-widgets.invalid-tld-not-checked.com"
    )


@pytest.mark.parametrize("phone", ["555-1234", "12", "call me", "+1 999 555 0100"])
def test_invalid_phones_are_refused(phone: str) -> None:
    problem = only(update(phone=phone))
    assert (problem.path, problem.code) == (("input", "phone"), "INVALID_PHONE")


def test_phones_are_formatted_internationally_and_read_in_the_address_country() -> None:
    assert update(phone="415.444.6538").normalized.phone == "+1 415-444-6538"
    assert update(phone="+44 20 7946 0958").normalized.phone == "+44 20 7946 0958"
    # Without a country code the number is read where the address is.
    gb = Address(line1="10 Downing St", city="London", postal_code="sw1a2aa", country="UK")
    result = update(phone="020 7946 0958", address=gb)
    assert result.ok, result.problems
    assert result.normalized.phone == "+44 20 7946 0958"
    assert codes(update(phone="020 7946 0958")) == [(("input", "phone"), "INVALID_PHONE")]  # read as US


@pytest.mark.parametrize("website", ["ftp://example.com", "not a url", "https://", "http://localhost", "example",
                                     "https://user:pw@example.com", "https://example.com:http"])
def test_invalid_websites_are_refused(website: str) -> None:
    assert codes(update(website=website)) == [(("input", "website"), "INVALID_URL")]


@pytest.mark.parametrize(("website", "normalized"), [
    ("example.com", "https://example.com"),
    ("www.Example.com/About?x=1", "https://www.example.com/About?x=1"),
    ("HTTP://Example.COM:8080/a", "http://example.com:8080/a"),
    ("https://münchen.de", "https://münchen.de"),
])
def test_valid_websites_get_a_scheme_and_a_lower_case_host(website: str, normalized: str) -> None:
    assert update(website=website).normalized.website == normalized


def test_blank_contact_details_clear_on_update_and_are_absent_on_create() -> None:
    cleared = update(email="", phone="  ", website="")
    assert cleared.ok
    assert (cleared.normalized.email, cleared.normalized.phone, cleared.normalized.website) == ("", "", "")
    created = create(email="", phone="", website=" ")
    assert created.ok
    assert (created.normalized.email, created.normalized.phone, created.normalized.website) == (None, None, None)


# --- addresses ------------------------------------------------------------------------------------


def test_us_states_are_codes_or_names() -> None:
    for state in ("ny", "New York", "N.Y.", "district of columbia", "Washington, D.C."):
        result = update(address=Address(line1="1 Main St", city="Albany", state=state, postal_code="12207"))
        assert result.ok, (state, result.problems)
    assert update(address=Address(line1="1 Main St", city="Albany", state="new york",
                                  postal_code="12207")).normalized.address.state == "NY"  # type: ignore[union-attr]
    problem = only(update(address=Address(line1="1 Main St", city="X", state="Nowhere", postal_code="12207")))
    assert (problem.path, problem.code) == (("input", "address", "state"), "INVALID_STATE")
    assert "no country was given, so US was assumed" in problem.message


def test_canadian_provinces_and_postal_codes() -> None:
    result = update(address=Address(line1="24 Sussex Dr", city="Ottawa", state="Ontario", postal_code="k1a0b1",
                                    country="Canada"))
    assert result.ok, result.problems
    assert result.normalized.address == Address(line1="24 Sussex Dr", city="Ottawa", state="ON",
                                                postal_code="K1A 0B1", country="CA")
    # A Quebec address without a country is recognized as Canadian by its province.
    quebec = update(address=Address(line1="1 Rue", city="Montréal", state="Québec", postal_code="H2X 1Y4"))
    assert quebec.ok, quebec.problems
    assert quebec.normalized.address.state == "QC"  # type: ignore[union-attr]
    assert codes(update(address=Address(line1="1 A", city="B", state="ON", postal_code="D1A 0B1", country="CA"))) == [
        (("input", "address", "postalCode"), "INVALID_POSTAL_CODE")]
    assert codes(update(address=Address(line1="1 A", city="B", state="Texas", postal_code="K1A 0B1",
                                        country="CA"))) == [(("input", "address", "state"), "INVALID_STATE")]


@pytest.mark.parametrize(("country", "good", "normalized", "bad"), [
    ("US", "12345-6789", "12345-6789", "1234"),
    ("US", "123456789", "12345-6789", "12345-67"),
    ("GB", "sw1a 1aa", "SW1A 1AA", "SW1A 1A"),
    ("GB", "M11AE", "M1 1AE", "11 1AE"),
    ("AU", "2000", "2000", "200"),
    ("DE", "10115", "10115", "1011A"),
    ("FR", "75001", "75001", "7500"),
    ("NL", "1012ab", "1012 AB", "1012 SA"),
])
def test_postal_codes_per_country(country: str, good: str, normalized: str, bad: str) -> None:
    state = "NY" if country == "US" else None
    ok = update(address=Address(line1="1 Main", city="Town", state=state, postal_code=good, country=country))
    assert ok.ok, ok.problems
    assert ok.normalized.address.postal_code == normalized  # type: ignore[union-attr]
    refused = update(address=Address(line1="1 Main", city="Town", state=state, postal_code=bad, country=country))
    assert codes(refused) == [(("input", "address", "postalCode"), "INVALID_POSTAL_CODE")]


def test_countries_without_rules_get_only_length_limits() -> None:
    result = update(address=Address(line1="Calle 1", city="Lima", state="Lima", postal_code="LIMA 01", country="pe"))
    assert result.ok, result.problems
    assert result.normalized.address.country == "PE"  # type: ignore[union-attr]
    too_long = update(address=Address(line1="Calle 1", city="Lima", postal_code="9" * 31, country="PE"))
    assert [(p.path, p.code, p.system) for p in too_long.problems] == [
        (("input", "address", "postalCode"), "TOO_LONG", QB)]


def test_countries_are_alpha2_codes_or_common_names() -> None:
    for country, code in (("USA", "US"), ("United States", "US"), ("canada", "CA"), ("de", "DE"), ("Holland", "NL")):
        address = update(address=Address(line1="1 Main", city="Town", country=country, state="NY" if code == "US"
                                         else "ON" if code == "CA" else None,
                                         postal_code={"US": "12207", "CA": "K1A 0B1", "DE": "10115",
                                                      "NL": "1012 AB"}[code])).normalized.address
        assert address is not None and address.country == code
    assert codes(update(address=Address(line1="1 Main", city="Town", country="Narnia"))) == [
        (("input", "address", "country"), "INVALID_COUNTRY")]
    assert codes(update(address=Address(line1="1 Main", city="Town", country="XX"))) == [
        (("input", "address", "country"), "INVALID_COUNTRY")]


def test_an_address_needs_a_first_line_and_a_city_and_in_north_america_a_state_and_postal_code() -> None:
    result = update(address=Address(line2="Suite 4", country="US"))
    assert codes(result) == [
        (("input", "address", "line1"), "REQUIRED"),
        (("input", "address", "city"), "REQUIRED"),
        (("input", "address", "state"), "REQUIRED"),
        (("input", "address", "postalCode"), "REQUIRED"),
    ]
    assert update(address=Address(line1="Kalverstraat 1", city="Amsterdam", country="NL")).ok
    assert create(address=US_ADDRESS).ok


def test_a_blank_address_clears_on_update_and_is_absent_on_create() -> None:
    blank = Address(line1=" ", city="", state=None)
    assert update(address=blank).normalized.address == Address()
    assert create(address=blank).normalized.address is None


def test_person_name_parts_are_trimmed_and_both_blank_clears() -> None:
    assert update(person_name=PersonName(" Bill ", "Lucchini")).normalized.person_name == PersonName("Bill",
                                                                                                   "Lucchini")
    assert update(person_name=PersonName("", " ")).normalized.person_name == PersonName()
    assert create(person_name=PersonName("", None)).normalized.person_name is None


# --- system limits ---------------------------------------------------------------------------------


def test_a_long_name_is_reported_once_per_system_that_would_refuse_it() -> None:
    name = "A" * 300  # over QuickBooks' 100 and SharePoint's 255; Teamwork documents no limit
    result = update(name=name)
    assert [(p.path, p.code, p.system) for p in result.problems] == [
        (("input", "name"), "TOO_LONG", QB),
        (("input", "name"), "TOO_LONG", SP),
    ]
    assert "QuickBooks accepts at most 100" in result.problems[0].message
    assert "SharePoint accepts at most 255" in result.problems[1].message
    assert "300 characters" in result.problems[0].message


def test_limits_are_checked_only_for_the_systems_that_receive_the_value() -> None:
    name = "A" * 300
    assert update(name=name, systems=frozenset({TW})).ok
    assert [p.system for p in update(name=name, systems=frozenset({SP, TW})).problems] == [SP]
    assert [p.system for p in update(name="A" * 200, systems=ALL).problems] == [QB]
    assert update(name="A" * 100, systems=ALL).ok


def test_limits_follow_ownership_a_system_that_ignores_the_attribute_is_not_checked() -> None:
    ignoring_qb = OwnershipPolicy().with_overrides({"name": {QB: Ownership.IGNORE}})
    result = validate_customer_input(RecordChanges(name="A" * 200), creating=False, systems=ALL,
                                     ownership=ignoring_qb)
    assert result.ok, result.problems


def test_a_colon_is_refused_only_by_quickbooks() -> None:
    problem = only(update(name="Acme: West"))
    assert (problem.code, problem.system) == ("FORBIDDEN_CHARACTERS", QB)
    assert "QuickBooks" in problem.message and "':'" in problem.message
    assert update(name="Acme: West", systems=frozenset({SP, TW})).ok


def test_every_limit_problem_of_one_input_is_collected() -> None:
    result = update(
        email="a" * 60 + "@" + "b" * 50 + ".com",  # 115 characters: QuickBooks keeps 100
        address=Address(line1="1 Main", city="C" * 256, state="NY", postal_code="12207"),
        person_name=PersonName(given="G" * 101),
    )
    assert [(p.path, p.code, p.system) for p in result.problems] == [
        (("input", "personName", "given"), "TOO_LONG", QB),
        (("input", "email"), "TOO_LONG", QB),
        (("input", "address", "city"), "TOO_LONG", QB),
        (("input", "address", "city"), "TOO_LONG", SP),
    ]


def test_write_limits_name_only_the_paths_each_system_stores() -> None:
    assert write_limits(QB)["name"] == FieldLimit(100, ":\t\n", write_limits(QB)["name"].note)
    assert write_limits(SP)["address.postalCode"].max_length == 255
    assert "website" not in write_limits(SP) and "address.country" not in write_limits(SP)
    assert "status" not in write_limits(TW) and "personName.given" not in write_limits(TW)
    assert write_limits(TW)["address.country"].max_length == 2
    for system in SystemName:
        assert set(write_limits(system)) <= set(ATTRIBUTE_PATHS)
