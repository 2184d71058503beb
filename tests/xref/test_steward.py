"""Steward actions change the index at once, and every later bulk run respects them (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

import pytest

from connectors import SourceRecord, SystemName
from tests.support.fakes import SAMPLE_RECORDS, FakeConnector, make_record
from xref import (
    InvalidStewardAction,
    ReviewCandidate,
    StewardActions,
    Stewardship,
    UnknownCustomer,
    UnknownRecord,
    UnknownReviewItem,
    XrefService,
    pair_key,
    run_bulk_match,
)

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS
Build = Callable[[Iterable[SourceRecord]], dict[SystemName, FakeConnector]]

RECORDS = [
    *SAMPLE_RECORDS,
    # The same business under an old and a new name: only a person can tell.
    make_record(SP, "5", name="Northwind Traders", email="orders@northwind.example"),
    make_record(TW, "20", name="Blue Harbor Trading", phone="+1 212 555 0199"),
]


@pytest.fixture
def connectors(fake_connectors: Build) -> dict[SystemName, FakeConnector]:
    return fake_connectors(RECORDS)


@pytest.fixture
async def steward(service: XrefService, connectors: dict[SystemName, FakeConnector]) -> StewardActions:
    await run_bulk_match(connectors, service)
    return StewardActions(service, connectors)


async def _owners(service: XrefService) -> dict[tuple[SystemName, str], str | None]:
    return {r.key: await service.customer_for(*r.key) for r in RECORDS}


async def _rerun_three_times(service: XrefService, connectors: dict[SystemName, FakeConnector]) -> None:
    """Three bulk runs over the same data; the index must end as it started."""
    before = await _owners(service)
    for _ in range(3):
        await run_bulk_match(connectors, service)
        assert await _owners(service) == before


async def test_link_records_joins_them_now_and_survives_reruns(
    service: XrefService, steward: StewardActions, connectors: dict[SystemName, FakeConnector]
) -> None:
    northwind, harbor = await service.customer_for(SP, "5"), await service.customer_for(TW, "20")
    assert northwind is not None and harbor is not None and northwind != harbor

    outcome = await steward.link_records((SP, "5"), (TW, "20"), decided_by="ann")

    assert outcome.customer_ids == (northwind,)
    [decision] = outcome.decisions
    assert (decision.verdict, decision.action, decision.decided_by) == ("same", "link", "steward:ann")
    assert decision.fingerprint
    customer = await service.get(northwind)
    assert customer is not None
    moved = {link.key: link for link in customer.links}[(TW, "20")]
    assert (moved.decided_by, moved.confidence, moved.evidence) == ("steward:ann", 1.0, {"decision": decision.id})
    retired = await service.get(harbor)
    assert retired is not None and retired.id == northwind and retired.merged_from == (harbor,)

    await _rerun_three_times(service, connectors)
    customer = await service.get(northwind)
    assert customer is not None
    assert {link.key for link in customer.links} == {(SP, "5"), (TW, "20")}
    assert "steward:ann" in {link.decided_by for link in customer.links}


async def test_steward_split_survives_three_reruns(
    service: XrefService, steward: StewardActions, connectors: dict[SystemName, FakeConnector]
) -> None:
    acme = await service.customer_for(SP, "1")
    assert acme is not None and await service.customer_for(QB, "100") == acme

    outcome = await steward.unlink_record((QB, "100"), decided_by="bob")

    assert {d.pair for d in outcome.decisions} == {pair_key((QB, "100"), (SP, "1")), pair_key((QB, "100"), (TW, "10"))}
    assert {d.verdict for d in outcome.decisions} == {"different"}
    own = outcome.customer_ids[1]
    assert outcome.customer_ids[0] == acme and own != acme
    assert await service.customer_for(QB, "100") == own
    assert await service.customer_for(SP, "1") == acme == await service.customer_for(TW, "10")

    await _rerun_three_times(service, connectors)
    assert await service.customer_for(QB, "100") == own


async def test_merge_customers_moves_every_record_and_the_old_id_resolves(
    service: XrefService, steward: StewardActions, connectors: dict[SystemName, FakeConnector]
) -> None:
    bills, zed = await service.customer_for(SP, "2"), await service.customer_for(SP, "3")
    assert bills is not None and zed is not None and bills != zed

    outcome = await steward.merge_customers(bills, zed, decided_by="cy")

    assert outcome.customer_ids == (bills, zed)
    assert {d.verdict for d in outcome.decisions} == {"same"} and len(outcome.decisions) == 3
    merged = await service.get(zed)
    assert merged is not None and merged.id == bills and merged.merged_from == (zed,)
    assert {link.key for link in merged.links} == {(SP, "2"), (QB, "101"), (SP, "3"), (SP, "4")}

    await _rerun_three_times(service, connectors)
    with pytest.raises(InvalidStewardAction, match=f"{zed} was already merged into {bills}"):
        await steward.merge_customers(bills, zed, decided_by="cy")


async def test_reject_pair_splits_records_that_are_together(
    service: XrefService, steward: StewardActions, connectors: dict[SystemName, FakeConnector]
) -> None:
    zed = await service.customer_for(SP, "3")
    assert zed is not None and await service.customer_for(SP, "4") == zed

    outcome = await steward.reject_pair((SP, "3"), (SP, "4"), decided_by="dee")

    [decision] = outcome.decisions
    assert (decision.verdict, decision.action) == ("different", "reject")
    assert await service.customer_for(SP, "3") == zed
    assert await service.customer_for(SP, "4") not in (None, zed)
    await _rerun_three_times(service, connectors)


async def test_accepting_a_review_item_links_the_pair_now(
    service: XrefService, steward: StewardActions, connectors: dict[SystemName, FakeConnector]
) -> None:
    stewardship = Stewardship(service.sessions)
    pair = pair_key((SP, "5"), (TW, "20"))
    await stewardship.sync_review_queue(None, [ReviewCandidate(pair=pair, score=3.2, evidence={})])
    [item] = (await stewardship.review_queue(10)).items

    outcome = await steward.resolve_review(item.id, accept=True, decided_by="eve")

    [decision] = outcome.decisions
    assert (decision.verdict, decision.action, decision.decided_by) == ("same", "accept_review", "steward:eve")
    assert await service.customer_for(SP, "5") == await service.customer_for(TW, "20")
    resolved = await stewardship.review_item(item.id)
    assert resolved is not None and (resolved.status, resolved.resolved_by) == ("accepted", "steward:eve")
    await _rerun_three_times(service, connectors)
    with pytest.raises(InvalidStewardAction, match=f"review item {item.id} is already accepted"):
        await steward.resolve_review(item.id, accept=False, decided_by="eve")


async def test_rejecting_a_review_item_splits_the_pair_now(
    service: XrefService, steward: StewardActions, connectors: dict[SystemName, FakeConnector]
) -> None:
    stewardship = Stewardship(service.sessions)
    await stewardship.sync_review_queue(
        None, [ReviewCandidate(pair=pair_key((SP, "2"), (QB, "101")), score=4.0, evidence={})]
    )
    [item] = (await stewardship.review_queue(10)).items

    await steward.resolve_review(item.id, accept=False, decided_by="eve")

    assert await service.customer_for(SP, "2") != await service.customer_for(QB, "101")
    await _rerun_three_times(service, connectors)


async def test_a_ruling_goes_back_to_review_when_compared_fields_change(
    service: XrefService, steward: StewardActions, connectors: dict[SystemName, FakeConnector]
) -> None:
    [decision] = (await steward.link_records((SP, "5"), (TW, "20"), decided_by="ann")).decisions
    harbor = connectors[TW].records["20"]
    connectors[TW].records["20"] = replace(harbor, phone="+1 212 555 0100")

    summary = await run_bulk_match(connectors, service)

    assert summary.decisions_stale == 1
    stewardship = Stewardship(service.sessions)
    [stale] = await stewardship.decisions(statuses=("needs_review",))
    assert stale.id == decision.id
    items = (await stewardship.review_queue(50)).items
    assert [(i.pair, i.status) for i in items if i.reason == "decision_changed"] == [(decision.pair, "open")]


async def test_fields_not_compared_do_not_disturb_a_ruling(
    service: XrefService, steward: StewardActions, connectors: dict[SystemName, FakeConnector]
) -> None:
    await steward.link_records((SP, "5"), (TW, "20"), decided_by="ann")
    connectors[TW].records["20"] = replace(connectors[TW].records["20"], version="9")

    summary = await run_bulk_match(connectors, service)

    assert summary.decisions_stale == 0
    assert await service.customer_for(SP, "5") == await service.customer_for(TW, "20")


async def test_matcher_links_name_the_attributes_that_decided_them(
    service: XrefService, steward: StewardActions
) -> None:
    acme = await service.customer_for(SP, "1")
    assert acme is not None
    customer = await service.get(acme)
    assert customer is not None
    explained = [link.evidence for link in customer.links if "attributes" in link.evidence]
    assert explained, "every member but the first is attached by a scored pair"
    for evidence in explained:
        attributes = evidence["attributes"]
        assert attributes and all(set(v) == {"level", "weight"} for v in attributes.values())
        assert {"name", "email"} & set(attributes)
        assert evidence["score"] == pytest.approx(sum(v["weight"] for v in attributes.values()), abs=0.01)
        assert len(evidence["with"]) == 2


async def test_unchanged_data_changes_nothing_across_runs(
    service: XrefService, connectors: dict[SystemName, FakeConnector]
) -> None:
    await run_bulk_match(connectors, service)
    before = await _owners(service)
    for _ in range(2):
        summary = await run_bulk_match(connectors, service)
        assert (summary.links_added, summary.links_removed, summary.links_moved, summary.links_updated) == (0, 0, 0, 0)
        assert summary.customers_created == summary.customers_retired == 0
        assert await _owners(service) == before


async def test_unknown_things_are_named_in_the_error(service: XrefService, steward: StewardActions) -> None:
    with pytest.raises(UnknownCustomer, match="no customer cus_nope"):
        await steward.merge_customers("cus_nope", "cus_other", decided_by="ann")
    with pytest.raises(UnknownRecord, match="no record 999 in teamwork"):
        await steward.link_records((SP, "1"), (TW, "999"), decided_by="ann")
    with pytest.raises(UnknownRecord, match="quickbooks/404 is not linked"):
        await steward.unlink_record((QB, "404"), decided_by="ann")
    with pytest.raises(UnknownReviewItem, match="no review item 12345"):
        await steward.resolve_review(12345, accept=True, decided_by="ann")
    with pytest.raises(UnknownRecord, match="unknown system 'salesforce'"):
        await steward.link_records(("salesforce", "1"), (TW, "10"), decided_by="ann")


async def test_an_action_needs_who_and_sensible_records(service: XrefService, steward: StewardActions) -> None:
    with pytest.raises(InvalidStewardAction, match="needs who"):
        await steward.link_records((SP, "1"), (TW, "10"), decided_by="  ")
    with pytest.raises(InvalidStewardAction, match="paired with itself"):
        await steward.reject_pair((SP, "1"), (SP, "1"), decided_by="ann")
    with pytest.raises(InvalidStewardAction, match="only record of customer"):
        await steward.unlink_record((TW, "11"), decided_by="ann")
    acme = await service.customer_for(SP, "1")
    assert acme is not None
    with pytest.raises(InvalidStewardAction, match="into itself"):
        await steward.merge_customers(acme, acme, decided_by="ann")
    assert await Stewardship(service.sessions).decisions() == []
