"""The JSON form of write values round-trips, and compensation/merging compute the right change."""

from __future__ import annotations

from connectors import Address, CustomerStatus, PersonName, RecordChanges, SourceRecord, SystemName
from resolvers.write_through import OwnWrites
from resolvers.write_values import changes_from_json, changes_to_json, merged, restore, set_attributes

CHANGE = RecordChanges(name="Acme", email="", address=Address(line1="1 Main St", city="Austin", state="TX"),
                       status=CustomerStatus.ACTIVE, person_name=PersonName(given="Ada", family="Lovelace"))


def test_a_change_survives_the_trip_through_json() -> None:
    stored = changes_to_json(CHANGE)
    assert "phone" not in stored and stored["email"] == ""  # unset stays unset; "" (clear) is kept
    assert changes_from_json(stored) == CHANGE


def test_restore_puts_back_held_values_and_clears_what_the_record_did_not_hold() -> None:
    before = SourceRecord(system=SystemName.QUICKBOOKS, id="5", name="Old Name", email=None,
                          address=Address(line1="9 Elm St"), status=CustomerStatus.LEAD)
    back = restore(before, set_attributes(CHANGE))
    assert back.name == "Old Name" and back.email == "" and back.address == Address(line1="9 Elm St")
    assert back.status == CustomerStatus.LEAD and back.person_name == PersonName()


def test_merging_queued_changes_keeps_the_newest_value_of_each_attribute() -> None:
    older = RecordChanges(name="First", email="a@x.test")
    newer = RecordChanges(name="Second", phone="+1 503-555-0100")
    assert merged(older, newer) == RecordChanges(name="Second", email="a@x.test", phone="+1 503-555-0100")


def test_own_writes_are_recognised_until_they_expire() -> None:
    now = [100.0]
    own = OwnWrites(ttl_s=10, clock=lambda: now[0])
    own.record(SourceRecord(system=SystemName.TEAMWORK, id="7", version="2026-11-23T10:00:00Z"))
    assert own.is_own(SystemName.TEAMWORK, "7", "2026-11-23T10:00:00Z")
    assert not own.is_own(SystemName.TEAMWORK, "7", "2026-11-23T10:05:00Z")  # someone else's later change
    now[0] = 111.0
    assert not own.is_own(SystemName.TEAMWORK, "7", "2026-11-23T10:00:00Z")
