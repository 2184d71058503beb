"""Reconciliation checks on small hand-made snapshots: what counts as drift, where, and what a repair may write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors import Address, CustomerStatus, SourceRecord, SystemName
from resolvers.convert_lead import Provisioner, conversion_request_id
from resolvers.ownership import DEFAULT_OWNERSHIP, Ownership
from resolvers.reconcile import CHECKS, LinkRepair, RunSummary, Snapshot, check, repair_links
from resolvers.write_through import OwnWrites
from tests.resolvers.test_convert_lead import HonoursRequestIds
from tests.support.fakes import FakeConnector, make_record
from xref import AuditLog, LinkInfo, XrefService, create_engine, create_sessions, upgrade
from xref.reconcile_runs import check_counts_only

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def link(customer: str, record: SourceRecord | tuple[SystemName, str], confidence: float = 1.0,
         created: int = 0) -> LinkInfo:
    system, record_id = record.key if isinstance(record, SourceRecord) else record
    return LinkInfo(customer_id=customer, system=system, record_id=record_id, confidence=confidence, evidence={},
                    decided_by="matcher:test", created_at=T0.replace(second=created), updated_at=T0)


def snapshot(customers: dict[str, list[SourceRecord]], *, extra_links: dict[str, list[tuple[SystemName, str]]] | None = None,
             unlinked: list[SourceRecord] = (), review: frozenset[tuple[SystemName, str]] = frozenset()) -> Snapshot:  # type: ignore[assignment]
    links = {c: [link(c, r, created=i) for i, r in enumerate(rs)] for c, rs in customers.items()}
    for customer, keys in (extra_links or {}).items():
        links.setdefault(customer, []).extend(link(customer, key, confidence=0.5) for key in keys)
    records = {r.key: r for rs in customers.values() for r in rs} | {r.key: r for r in unlinked}
    read = {s: sum(1 for key in records if key[0] is s) for s in SystemName}
    return Snapshot(links=links, records=records, read=read, review_open=len(review) // 2, review_keys=review)


def run(customers: dict[str, list[SourceRecord]], **kwargs: object) -> RunSummary:
    return check(snapshot(customers, **kwargs), unique={QB: frozenset({"name"})})  # type: ignore[arg-type]


def test_format_differences_are_not_drift_but_other_values_are() -> None:
    summary = run({
        "c1": [make_record(SP, "1", name="Acme Inc.", email="Info@Acme.COM ", phone="(415) 555-0100"),
               make_record(QB, "7", name="ACME", email="info@acme.com", phone="+1 415 555 0100 x12")],
        "c2": [make_record(SP, "2", name="Bolt LLC", email="a@bolt.com"),
               make_record(QB, "8", name="Bolt", email="billing@bolt.com")],
    })

    assert summary.attributes["name"].drifted == []
    assert summary.attributes["email"].drifted == ["c2"]
    assert summary.checks["email"].failing == 1 and summary.checks["email"].checked == 2
    assert summary.checks["phone"].checked == 1 and summary.checks["phone"].failing == 0


def test_the_system_that_differs_from_the_survivorship_value_is_named() -> None:
    # Email: the CRM's value wins (contact priority), so QuickBooks and Teamwork are the ones that differ.
    summary = run({"c1": [make_record(SP, "1", email="a@acme.com"), make_record(TW, "5", email="b@acme.com"),
                          make_record(QB, "7", email="b@acme.com")]})

    found = summary.attributes["email"]
    assert found.by_system == {TW: ["c1"], QB: ["c1"]}
    assert found.by_pair == {"quickbooks+sharepoint": 1, "sharepoint+teamwork": 1}
    [repair] = summary.repairs
    assert repair.value == "a@acme.com" and {link.system for link in repair.links} == {TW, QB}


def test_a_value_missing_in_one_system_is_a_gap_not_drift() -> None:
    summary = run({"c1": [make_record(SP, "1", name="Acme", email="a@acme.com"), make_record(QB, "7", name="Acme")]})

    assert summary.checks["email"].checked == 0
    assert summary.checks["email"].score == 1.0


def test_status_is_compared_in_what_each_system_can_hold() -> None:
    sp_lead = replace(make_record(SP, "1", name="A"), status=CustomerStatus.LEAD)
    sp_active = replace(make_record(SP, "2", name="B"), status=CustomerStatus.ACTIVE)
    qb_active = replace(make_record(QB, "7", name="A"), status=CustomerStatus.ACTIVE)
    qb_inactive = replace(make_record(QB, "8", name="B"), status=CustomerStatus.INACTIVE)
    summary = run({"lead-billed": [sp_lead, qb_active], "former": [sp_active, qb_inactive]})

    # Billed as active but a lead in the CRM: drift, fixed by writing "active" to the CRM.
    assert summary.attributes["status"].drifted == ["lead-billed"]
    assert summary.attributes["status"].by_system == {SP: ["lead-billed"]}
    [repair] = summary.repairs
    assert repair.value is CustomerStatus.ACTIVE and repair.links[0].system is SP
    # The CRM list has no "inactive": a former customer still "active" there is not compared.
    assert summary.checks["status"].checked == 1


def test_an_inactive_duplicate_in_the_books_is_a_retired_record_not_status_drift() -> None:
    summary = run({"c1": [replace(make_record(QB, "7", name="A"), status=CustomerStatus.ACTIVE),
                          replace(make_record(QB, "9", name="A (2)"), status=CustomerStatus.INACTIVE),
                          replace(make_record(SP, "1", name="A"), status=CustomerStatus.ACTIVE)]})

    assert summary.attributes["status"].drifted == []
    assert summary.attributes["name"].drifted == []  # "(2)" is QuickBooks' way round its unique names
    assert summary.failing("duplicates") == ["c1"]
    assert summary.duplicate_records[QB] == 1


def test_a_unique_value_on_a_duplicate_record_is_reported_unfixable() -> None:
    summary = run({"c1": [make_record(QB, "7", name="Acme"), make_record(QB, "9", name="Acme Holdings"),
                          make_record(SP, "1", name="Acme")]})

    assert summary.attributes["name"].drifted == ["c1"]
    assert summary.repairs == []
    [refused] = summary.unfixable
    assert refused.reason == "duplicate" and refused.deviation.record_id == "9"


def test_an_attribute_the_ownership_policy_ignores_is_unfixable_there() -> None:
    ownership = DEFAULT_OWNERSHIP.with_overrides({"website": {QB: Ownership.IGNORE}})
    snap = snapshot({"c1": [make_record(TW, "5", website="https://acme.com"),
                            make_record(QB, "7", website="acme-shop.com")]})

    summary = check(snap, ownership=ownership)

    assert summary.attributes["website"].drifted == ["c1"]
    assert [(u.reason, u.deviation.system) for u in summary.unfixable] == [("ownership", QB)]
    assert summary.repairs == []


def test_a_value_a_system_would_refuse_is_unfixable_with_the_reason() -> None:
    long_email = "billing@" + "x" * 60 + "." + "y" * 40 + ".com"  # QuickBooks keeps at most 100 characters
    snap = snapshot({"c1": [make_record(SP, "1", email=long_email), make_record(TW, "5", email="a@acme.com"),
                            make_record(QB, "7", email="a@acme.com")]})

    summary = check(snap)

    [refused] = summary.unfixable
    assert (refused.reason, refused.deviation.system) == ("invalid", QB)
    assert "quickbooks" in refused.message
    [repair] = summary.repairs
    assert [link.system for link in repair.links] == [TW] and repair.value == long_email


def test_missing_dangling_unlinked_and_review_are_counted_per_system() -> None:
    active = replace(make_record(SP, "1", name="A"), status=CustomerStatus.ACTIVE)
    lead = replace(make_record(SP, "2", name="B"), status=CustomerStatus.LEAD)
    billed = replace(make_record(QB, "7", name="C"), status=CustomerStatus.ACTIVE)
    stray = make_record(TW, "99", name="Nobody")
    summary = run(
        {"active": [active], "lead": [lead], "billed": [billed]},
        extra_links={"billed": [(TW, "404")]}, unlinked=[stray], review=frozenset({(SP, "2"), (TW, "99")}),
    )

    assert summary.missing == {TW: ["active"], QB: ["active"]}
    assert summary.checks["missing"].checked == 2  # "lead" is not active
    assert summary.dangling[TW] == [("billed", "404")]
    assert summary.unlinked[TW] == 1
    assert summary.review_customers == ["lead"]
    assert summary.overall.failing == 3 and summary.overall.checked == 3


def test_the_stored_summary_holds_counts_only() -> None:
    summary = run({"c1": [make_record(SP, "1", name="Acme", email="a@acme.com", city="Portland", state="OR",
                                      street="1 Main St", postal_code="97204"),
                          make_record(QB, "7", name="Acme", email="b@acme.com")]})

    counts = summary.counts()

    check_counts_only(counts)
    text = repr(counts)
    assert "c1" not in text and "acme.com" not in text and "Portland" not in text
    assert set(counts["checks"]) == set(CHECKS)
    assert counts["attributes"]["email"]["systems"]["quickbooks"] == 1
    assert counts["repairs"]["planned"] == {"email": {"quickbooks": 1}}


def test_a_customer_with_records_in_a_system_not_read_is_not_judged_there() -> None:
    records = {"c1": [make_record(SP, "1", name="Acme")]}
    snap = snapshot(records, extra_links={"c1": [(QB, "7")]})
    snap.read = {SP: 1}

    summary = check(snap)

    assert summary.dangling == {SP: []}
    assert summary.overall.failing == 0


def test_addresses_compare_by_their_normalized_parts() -> None:
    a = replace(make_record(QB, "7"), address=Address("12 North Ocean Drive", "Suite 4", "San Jose", "California",
                                                       "95121-1234", "USA"))
    b = replace(make_record(SP, "1"), address=Address("12 N Ocean Dr., Ste 4", None, "SAN JOSE", "CA", "95121"))
    c = replace(make_record(TW, "5"), address=Address("14 N Ocean Dr", None, "San Jose", "CA", "95121", "US"))

    summary = run({"c1": [a, b, c]})

    assert summary.attributes["address"].by_system == {TW: ["c1"]}


# --- link repairs and a steward's work --------------------------------------------------------------


def test_dangling_links_are_unlinked_and_missing_systems_provisioned() -> None:
    active = replace(make_record(SP, "1", name="A"), status=CustomerStatus.ACTIVE)
    billed = replace(make_record(QB, "7", name="C"), status=CustomerStatus.ACTIVE)
    lead = replace(make_record(SP, "2", name="B"), status=CustomerStatus.LEAD)
    summary = run({"active": [active], "billed": [billed], "lead": [lead], "ghost": []},
                  extra_links={"billed": [(TW, "404")], "lead": [(TW, "405")], "ghost": [(QB, "406")]})

    planned = {fix.customer_id: ([link.key for link in fix.unlink], list(fix.provision)) for fix in summary.link_repairs}

    assert planned == {
        "active": ([], [TW, QB]),
        # Its only Teamwork record is gone: unlinked, then set up again (the missing check would ask next run).
        "billed": ([(TW, "404")], [TW]),
        "lead": ([(TW, "405")], []),  # not active: nothing to set up
        "ghost": ([(QB, "406")], []),  # no record left: unlinking retires it
    }
    counts = summary.counts()["repairs"]
    assert counts["links"] == {"unlink": {"quickbooks": 1, "teamwork": 2}, "provision": {"quickbooks": 1,
                                                                                        "teamwork": 2}}
    check_counts_only(counts)


def test_duplicates_and_the_review_backlog_are_a_stewards_work_with_the_way_to_settle_them() -> None:
    summary = run({"c1": [make_record(QB, "7", name="Acme"), make_record(QB, "9", name="Acme"),
                          make_record(SP, "1", name="Acme")],
                   "c2": [make_record(SP, "2", name="Bolt"), make_record(TW, "5", name="Bolt")]},
                  review=frozenset({(TW, "5"), (TW, "99")}))

    work = {(w.check, w.customer_id): w for w in summary.steward}

    assert set(work) == {("duplicates", "c1"), ("review", "c2")}
    duplicates, review = work[("duplicates", "c1")], work[("review", "c2")]
    assert (duplicates.system, duplicates.record_ids, duplicates.reason) == (QB, ("7", "9"), "duplicates")
    assert "unlinkRecord" in duplicates.message and "quickbooks" in duplicates.message
    assert review.record_ids == ("teamwork:5",) and "resolveReview" in review.message
    assert summary.link_repairs == [] and summary.repairs == []
    assert summary.counts()["repairs"]["steward"] == {"duplicates": 1, "review": 1}


class World:
    def __init__(self, xref: XrefService, connectors: dict[SystemName, FakeConnector]) -> None:
        self.xref, self.connectors, self.audit = xref, connectors, AuditLog(xref.sessions)

    def provisioner(self) -> Provisioner:
        return Provisioner(xref=self.xref, connectors=self.connectors, ownership=DEFAULT_OWNERSHIP,
                           own_writes=OwnWrites(), decided_by="gateway:reconcile", created_by="reconcile")

    async def repair(self, *repairs: LinkRepair) -> list[list[tuple[str, SystemName, str]]]:
        outcomes = await repair_links(list(repairs), self.provisioner(), self.audit)
        by_customer = {o.repair.customer_id: o for o in outcomes}
        return [[(s.action, s.system, s.status) for s in by_customer[r.customer_id].steps] for r in repairs]

    async def links(self, customer_id: str) -> list[LinkInfo]:
        return (await self.xref.links_for([customer_id]))[customer_id]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'xref.sqlite3'}")
    await upgrade(engine)
    yield World(XrefService(create_sessions(engine)), {s: FakeConnector(s) for s in SystemName})
    await engine.dispose()


async def test_provisioning_after_a_lost_answer_creates_nothing_twice(world: World) -> None:
    quickbooks = HonoursRequestIds(QB)  # loses its first answer; a repeated request id gets the first record
    world.connectors[QB] = quickbooks
    world.connectors[SP].records["1"] = replace(make_record(SP, "1", name="Harbor Kites", email="ops@harbor.example"),
                                                status=CustomerStatus.ACTIVE)
    customer = (await world.xref.link_record(SP, "1", None, confidence=1.0, evidence={}, decided_by="test")).customer_id
    planned = LinkRepair(customer, provision=(TW, QB))

    first = await world.repair(planned)
    second = await world.repair(planned)  # a re-run (its plan would name only QuickBooks now)

    assert first == [[("provision", TW, "CREATED"), ("provision", QB, "FAILED")]]
    assert second == [[("provision", TW, "ALREADY_LINKED"), ("provision", QB, "CREATED")]]
    assert len(world.connectors[TW].records) == len(quickbooks.records) == 1
    assert quickbooks.request_ids == [conversion_request_id(customer, QB)] * 2
    assert {link.system for link in await world.links(customer)} == {SP, TW, QB}
    assert all(link.decided_by == "gateway:reconcile" for link in await world.links(customer) if link.system != SP)
    history = (await world.audit.history(customer, first=10)).entries
    assert [e.mutation for e in history] == ["reconcile", "reconcile"]
    assert history[1].outcomes["quickbooks"]["status"] == "FAILED"  # the first run's entry says what failed


async def test_a_link_is_removed_only_while_its_record_is_still_gone(world: World) -> None:
    world.connectors[SP].records["1"] = make_record(SP, "1", name="Harbor Kites")
    customer = (await world.xref.link_record(SP, "1", None, confidence=1.0, evidence={}, decided_by="test")).customer_id
    for record_id in ("404", "405"):
        await world.xref.link_record(TW, record_id, customer, confidence=0.9, evidence={}, decided_by="test")
    links = {link.record_id: link for link in await world.links(customer)}
    world.connectors[TW].records["405"] = make_record(TW, "405", name="Harbor Kites")  # back (read late)

    done = await world.repair(LinkRepair(customer, unlink=(links["404"], links["405"])))

    assert sorted(done[0]) == [("unlink", TW, "KEPT"), ("unlink", TW, "UNLINKED")]
    assert sorted(link.record_id for link in await world.links(customer)) == ["1", "405"]
    [entry] = (await world.audit.history(customer, first=10)).entries
    assert entry.changes[0] == {"attribute": "links", "before": ["sharepoint:1", "teamwork:404", "teamwork:405"],
                                "after": ["sharepoint:1", "teamwork:405"]}
    assert list(entry.outcomes) == ["teamwork:404"]
