"""Attribute ownership: the default table, where writes go, and the `ownership` setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connectors import SystemName, write_limits
from gateway.config import Settings
from resolvers.ownership import (
    ATTRIBUTES,
    DEFAULT_OWNERSHIP,
    DEFAULT_TABLE,
    REASONS,
    Ownership,
    OwnershipPolicy,
    publishers,
    systems_to_write,
)

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS
ALL = frozenset(SystemName)


def test_every_attribute_has_a_row_for_every_system_and_a_reason() -> None:
    assert set(DEFAULT_TABLE) == set(ATTRIBUTES) == set(REASONS)
    for attribute, row in DEFAULT_TABLE.items():
        assert set(row) == set(SystemName), attribute
        assert DEFAULT_OWNERSHIP.publishers(attribute), f"{attribute} has no publisher"


def test_defaults_ignore_exactly_where_a_system_has_no_field() -> None:
    for attribute, row in DEFAULT_TABLE.items():
        for system, ownership in row.items():
            stored = any(path.split(".")[0] == attribute for path in write_limits(system))
            assert (ownership is not Ownership.IGNORE) == stored, (attribute, system)


def test_the_billing_address_goes_to_quickbooks_and_the_crm_and_quickbooks_publishes_it() -> None:
    assert systems_to_write("address", {SP, QB}) == {SP, QB}
    assert systems_to_write("address.postalCode", ALL) == ALL
    assert publishers("address") == {QB}


def test_contact_details_and_status_are_published_by_the_crm() -> None:
    for attribute in ("email", "phone", "status"):
        assert SP in publishers(attribute)
    assert publishers("name") == {SP, QB}


def test_writes_never_go_where_the_system_ignores_the_attribute() -> None:
    assert systems_to_write("website", ALL) == {TW, QB}
    assert systems_to_write("status", ALL) == {SP, QB}
    assert systems_to_write("personName", ALL) == {QB}
    assert systems_to_write("personName", {SP, TW}) == set()


def test_only_linked_systems_are_written() -> None:
    assert systems_to_write("email", {TW}) == {TW}
    assert systems_to_write("email", set()) == set()


def test_an_unknown_attribute_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown attribute 'shoeSize'"):
        systems_to_write("shoeSize", ALL)


def test_overrides_replace_single_cells() -> None:
    policy = OwnershipPolicy().with_overrides({"email": {TW: Ownership.IGNORE}})
    assert policy.systems_to_write("email", ALL) == {SP, QB}
    assert policy.ownership("email", SP) is Ownership.PUBLISH
    assert policy.systems_to_write("phone", ALL) == ALL
    assert DEFAULT_OWNERSHIP.systems_to_write("email", ALL) == ALL  # the default is not changed


# --- the `ownership` setting ------------------------------------------------------------------------


def test_the_setting_defaults_to_the_table() -> None:
    assert Settings().ownership_policy().table == {a: dict(r) for a, r in DEFAULT_TABLE.items()}


def test_an_env_var_overrides_one_cell_and_keeps_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_OWNERSHIP__EMAIL__TEAMWORK", "ignore")
    monkeypatch.setenv("C360_OWNERSHIP__PERSONNAME__QUICKBOOKS", "CONSUME")  # env names arrive lower-cased
    policy = Settings().ownership_policy()
    assert policy.ownership("email", TW) is Ownership.IGNORE
    assert policy.ownership("email", SP) is Ownership.PUBLISH
    assert policy.ownership("personName", QB) is Ownership.CONSUME
    assert policy.systems_to_write("address", ALL) == ALL


def test_a_bad_value_is_refused_with_its_place_and_the_choices() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(ownership={"email": {"teamwork": "owner"}})
    text = str(info.value)
    assert "ownership.email.teamwork" in text and "'publish', 'consume' or 'ignore'" in text


def test_an_unknown_attribute_or_system_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"ownership: unknown attributes \['shoe_size'\]"):
        Settings(ownership={"shoe_size": {"teamwork": "ignore"}})
    with pytest.raises(ValidationError, match=r"ownership.email: unknown systems \['salesforce'\]"):
        Settings(ownership={"email": {"salesforce": "consume"}})


def test_writing_an_attribute_to_a_system_without_a_field_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_OWNERSHIP__WEBSITE__SHAREPOINT", "consume")
    with pytest.raises(ValidationError, match="sharepoint has no field for website"):
        Settings()
