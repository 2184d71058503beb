"""convertLead's steps over fake systems and a real index (SQLite): what is created, linked, kept on a re-run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connectors import (
    Address,
    CustomerStatus,
    RecordChanges,
    SourceRecord,
    SourceTimeout,
    SystemName,
    current_create_request_id,
)
from resolvers._services import Services
from resolvers.convert_lead import (
    ConversionLocks,
    conversion_request_id,
    convert_lead,
    kept,
    values_for,
    view_values,
)
from resolvers.mutations import WriteServices
from resolvers.ownership import DEFAULT_OWNERSHIP
from resolvers.survivorship import DEFAULT_POLICY
from resolvers.write_through import WriteThrough
from tests.support.fakes import FakeConnector
from xref import AuditLog, IdempotencyStore, Outbox, XrefService, create_engine, create_sessions, upgrade

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS
ADDRESS = Address(line1="12 Ocean Dr.", city="Half Moon Bay", state="CA", postal_code="94213")


def lead(record_id: str = "17", status: CustomerStatus = CustomerStatus.LEAD) -> SourceRecord:
    return SourceRecord(system=SP, id=record_id, version="1", name="Bill's Windsurf Shop", email="surf@example.com",
                        phone="(415) 444-6538", address=ADDRESS, status=status)


class LosesFirstAnswer(FakeConnector):
    """Creates the record, then fails as if the answer was lost on the way back (once)."""

    lost = False

    async def create(self, changes: RecordChanges) -> SourceRecord:
        record = await super().create(changes)
        if not self.lost:
            self.lost = True
            raise SourceTimeout(self.system, "no answer within 10s")
        return record


class HonoursRequestIds(LosesFirstAnswer):
    """QuickBooks' `requestid`: a create repeated with the same id returns the first record; search finds nothing."""

    def __init__(self, system: SystemName) -> None:
        super().__init__(system)
        self.by_request: dict[str, SourceRecord] = {}
        self.request_ids: list[str | None] = []

    async def search(self, **_: Any) -> list[SourceRecord]:
        return []

    async def create(self, changes: RecordChanges) -> SourceRecord:
        request_id = current_create_request_id()
        self.request_ids.append(request_id)
        if request_id in self.by_request:
            return self.by_request[request_id]
        record = await FakeConnector.create(self, changes)
        self.by_request[str(request_id)] = record
        if not self.lost:
            self.lost = True
            raise SourceTimeout(self.system, "no answer within 10s")
        return record


class World:
    def __init__(self, xref: XrefService, connectors: dict[SystemName, FakeConnector]) -> None:
        self.xref = xref
        self.connectors = connectors
        sessions = xref.sessions
        self.outbox, self.audit = Outbox(sessions), AuditLog(sessions)
        self.writes = WriteServices(
            write_through=WriteThrough(connectors, self.outbox, self.audit), idempotency=IdempotencyStore(sessions),
            outbox=self.outbox, audit=self.audit, ownership=DEFAULT_OWNERSHIP,
        )
        self.services = Services(xref=xref, connectors=connectors, writes=self.writes)
        self.locks = ConversionLocks()

    async def lead(self, record: SourceRecord | None = None) -> str:
        record = record or lead()
        self.connectors[SP].records[record.id] = record
        outcome = await self.xref.link_record(SP, record.id, None, confidence=1.0, evidence={}, decided_by="test")
        return outcome.customer_id

    async def convert(self, customer_id: str) -> dict[str, Any]:
        return await convert_lead(self.services, self.writes, self.locks, customer_id, subject="tester")

    async def linked(self, customer_id: str) -> dict[SystemName, list[str]]:
        found = await self.xref.get(customer_id)
        assert found is not None
        result: dict[SystemName, list[str]] = {}
        for link in found.links:
            result.setdefault(link.system, []).append(link.record_id)
        return result


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'xref.sqlite3'}")
    await upgrade(engine)
    yield World(XrefService(create_sessions(engine)), {s: FakeConnector(s) for s in SystemName})
    await engine.dispose()


def steps(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["system"], s["action"]) for s in result["steps"]]


async def test_a_lead_is_created_in_teamwork_and_quickbooks_linked_and_then_activated(world: World) -> None:
    customer = await world.lead()

    result = await world.convert(customer)

    assert result["type"] == "LeadConverted", result
    assert steps(result) == [("teamwork", "CREATED"), ("quickbooks", "CREATED"), ("sharepoint", "UPDATED")]
    linked = await world.linked(customer)
    [company] = world.connectors[TW].records.values()
    [account] = world.connectors[QB].records.values()
    assert linked == {SP: ["17"], TW: [company.id], QB: [account.id]}
    assert (company.name, company.email, company.address, company.status) == (
        "Bill's Windsurf Shop", "surf@example.com", ADDRESS, None)  # Teamwork holds no status
    assert (account.name, account.phone, account.address, account.status) == (
        "Bill's Windsurf Shop", "(415) 444-6538", ADDRESS, CustomerStatus.ACTIVE)
    assert world.connectors[SP].records["17"].status is CustomerStatus.ACTIVE
    history = await world.audit.history(customer, first=10)
    assert [e.mutation for e in history.entries] == ["convertLead", "convertLead"]  # provisioning, status write


async def test_a_rerun_after_a_lost_answer_links_the_record_the_first_run_created(world: World) -> None:
    world.connectors[QB] = LosesFirstAnswer(QB)
    world.services = Services(xref=world.xref, connectors=world.connectors, writes=world.writes)
    customer = await world.lead()

    first = await world.convert(customer)

    assert first["type"] == "ConversionFailed" and first["system"] == "quickbooks" and first["retryable"]
    assert steps(first) == [("teamwork", "CREATED")]
    assert "run convertLead again" in first["message"]
    assert world.connectors[SP].records["17"].status is CustomerStatus.LEAD  # the status goes last
    assert not kept(first)

    second = await world.convert(customer)

    assert steps(second) == [("teamwork", "ALREADY_LINKED"), ("quickbooks", "LINKED"), ("sharepoint", "UPDATED")]
    assert len(world.connectors[TW].records) == len(world.connectors[QB].records) == 1
    assert (await world.linked(customer))[QB] == list(world.connectors[QB].records)


async def test_a_repeated_quickbooks_create_carries_the_same_request_id(world: World) -> None:
    quickbooks = HonoursRequestIds(QB)
    world.connectors[QB] = quickbooks
    world.services = Services(xref=world.xref, connectors=world.connectors, writes=world.writes)
    customer = await world.lead()

    assert (await world.convert(customer))["type"] == "ConversionFailed"
    second = await world.convert(customer)

    assert steps(second)[1] == ("quickbooks", "CREATED")
    assert quickbooks.request_ids == [conversion_request_id(customer, QB)] * 2
    assert len(quickbooks.records) == 1  # the system answered the repeat with the first record


async def test_a_sure_match_nobody_holds_is_linked_instead_of_created(world: World) -> None:
    existing = SourceRecord(system=QB, id="58", version="0", name="Bill's Windsurf Shop",
                            email="surf@example.com", address=ADDRESS, status=CustomerStatus.ACTIVE)
    world.connectors[QB].records["58"] = existing
    customer = await world.lead()

    result = await world.convert(customer)

    assert steps(result)[:2] == [("teamwork", "CREATED"), ("quickbooks", "LINKED")]
    assert result["steps"][1]["recordId"] == "58" and result["steps"][1]["confidence"] > 0.9
    assert list(world.connectors[QB].records) == ["58"]


async def test_a_match_alone_in_a_customer_of_its_own_is_taken_and_that_id_retired(world: World) -> None:
    """What the bulk match leaves of a QuickBooks customer it found no partner for."""
    world.connectors[QB].records["58"] = SourceRecord(system=QB, id="58", version="0", name="Bill's Windsurf Shop",
                                                      email="surf@example.com", status=CustomerStatus.ACTIVE)
    alone = await world.xref.link_record(QB, "58", None, confidence=1.0, evidence={}, decided_by="test")
    customer = await world.lead()

    result = await world.convert(customer)

    assert steps(result)[1] == ("quickbooks", "LINKED")
    assert (await world.linked(customer))[QB] == ["58"]
    assert (await world.xref.get(alone.customer_id)).id == customer  # type: ignore[union-attr]  # merged into it
    assert "59" not in world.connectors[QB].records  # nothing created


async def test_a_match_whose_customer_holds_other_records_is_left_alone(world: World) -> None:
    world.connectors[QB].records["58"] = SourceRecord(system=QB, id="58", version="0", name="Bill's Windsurf Shop",
                                                      email="surf@example.com", status=CustomerStatus.ACTIVE)
    other = await world.xref.link_record(QB, "58", None, confidence=1.0, evidence={}, decided_by="test")
    await world.xref.link_record(TW, "77", other.customer_id, confidence=0.97, evidence={}, decided_by="test")
    customer = await world.lead()

    result = await world.convert(customer)

    assert steps(result)[1] == ("quickbooks", "CREATED")
    assert (await world.linked(other.customer_id)) == {QB: ["58"], TW: ["77"]}


async def test_a_converted_customer_converts_again_as_a_no_op(world: World) -> None:
    customer = await world.lead()
    await world.convert(customer)
    records = {s: dict(c.records) for s, c in world.connectors.items()}

    again = await world.convert(customer)

    assert again["type"] == "LeadConverted" and again["auditId"] is None
    assert steps(again) == [("teamwork", "ALREADY_LINKED"), ("quickbooks", "ALREADY_LINKED"),
                            ("sharepoint", "UNCHANGED")]
    assert {s: dict(c.records) for s, c in world.connectors.items()} == records


async def test_an_active_crm_customer_missing_elsewhere_is_set_up_without_a_status_write(world: World) -> None:
    customer = await world.lead(lead(status=CustomerStatus.ACTIVE))

    result = await world.convert(customer)

    assert steps(result) == [("teamwork", "CREATED"), ("quickbooks", "CREATED"), ("sharepoint", "UNCHANGED")]
    assert world.connectors[SP].records["17"].version == "1"


async def test_a_customer_without_a_crm_record_is_not_a_lead(world: World) -> None:
    world.connectors[QB].records["58"] = SourceRecord(system=QB, id="58", name="Only Billing")
    outcome = await world.xref.link_record(QB, "58", None, confidence=1.0, evidence={}, decided_by="test")

    result = await world.convert(outcome.customer_id)

    assert result["type"] == "NotALead"
    assert (await world.convert("no-such-customer"))["type"] == "CustomerNotFound"


def test_each_system_gets_only_what_the_ownership_policy_lets_it_hold() -> None:
    view = view_values({SP: [lead()]}, DEFAULT_POLICY)

    teamwork = values_for(TW, view, DEFAULT_OWNERSHIP)
    quickbooks = values_for(QB, view, DEFAULT_OWNERSHIP)
    crm = values_for(SP, RecordChanges(website="https://x.example", status=CustomerStatus.ACTIVE), DEFAULT_OWNERSHIP)

    assert teamwork == RecordChanges(name="Bill's Windsurf Shop", email="surf@example.com", phone="(415) 444-6538",
                                     address=ADDRESS)
    assert quickbooks == RecordChanges(name="Bill's Windsurf Shop", email="surf@example.com",
                                       phone="(415) 444-6538", address=ADDRESS, status=CustomerStatus.ACTIVE)
    assert crm == RecordChanges(status=CustomerStatus.ACTIVE)  # the CRM list has no website column


def test_the_request_id_is_stable_per_customer_and_system() -> None:
    assert conversion_request_id("c1", QB) == conversion_request_id("c1", QB)
    assert len({conversion_request_id("c1", QB), conversion_request_id("c2", QB), conversion_request_id("c1", TW)}) == 3
