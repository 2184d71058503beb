"""Incremental match of one record (match_one), and the index writes it needs, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from connectors import SourceRecord, SourceUnavailable, SystemName
from tests.support.fakes import FakeConnector, make_record
from xref import DIFFERENT, SAME, MatchAction, Stewardship, XrefError, XrefService, match_one, pair_key
from xref._stewardship import ReviewCandidate
from xref.engine import DECIDED_BY

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS

ACME_SP = make_record(SP, "1", name="Acme Widgets Inc", email="ops@acme.com", phone="(415) 555-0101",
                      postal_code="94107")
ACME_TW = make_record(TW, "9", name="ACME Widgets", email="ops@acme.com", phone="+1 415 555 0101",
                      postal_code="94107")
#: A new QuickBooks customer that is surely Acme (name, email, phone agree).
ACME_QB = make_record(QB, "5", name="Acme Widgets, Inc.", email="ops@acme.com", phone="415-555-0101")
#: Shares only Acme's email: worth a steward's look, not a link.
SHARED_INBOX_QB = make_record(QB, "6", name="Blue Harbor Cafe", email="ops@acme.com")
LONELY_QB = make_record(QB, "7", name="Zephyr Tiles", email="hello@zephyr.example", phone="303 555 0142")


def connectors_of(*records: SourceRecord, down: dict[SystemName, Exception] | None = None) -> dict[SystemName, FakeConnector]:
    fakes = {system: FakeConnector(system, search_fail_with=(down or {}).get(system)) for system in SystemName}
    for record in records:
        fakes[record.system].records[record.id] = record
    return fakes


async def acme(service: XrefService) -> str:
    """Acme in the index: SharePoint 1 and Teamwork 9."""
    customer = (await service.link_record(SP, "1", None, confidence=1.0, evidence={}, decided_by=DECIDED_BY)).customer_id
    await service.link_record(TW, "9", customer, confidence=0.99, evidence={}, decided_by=DECIDED_BY)
    return customer


async def open_pairs(service: XrefService) -> set[tuple[tuple[SystemName, str], tuple[SystemName, str]]]:
    page = await Stewardship(service.sessions).review_queue(first=100)
    return {item.pair for item in page.items}


# -- match_one ------------------------------------------------------------------------------------


async def test_a_sure_match_links_the_record_to_the_existing_customer(service: XrefService) -> None:
    customer = await acme(service)
    fakes = connectors_of(ACME_SP, ACME_TW, ACME_QB)

    result = await match_one(ACME_QB, fakes, service)

    assert result.action is MatchAction.LINKED and result.customer_id == customer
    assert result.linked_to is not None and result.linked_to.customer_id == customer
    info = await service.get(customer)
    assert info is not None
    link = next(link for link in info.links if link.key == (QB, "5"))
    assert link.decided_by == DECIDED_BY
    assert 0.99 <= link.confidence <= 1.0
    assert {"name", "email", "phone"} <= set(link.evidence["attributes"])
    assert link.evidence["score"] >= 10.0
    # Found live through every system's search, the record's own system included.
    assert all(fake.search_calls for fake in fakes.values())


async def test_a_record_like_nothing_gets_a_customer_of_its_own(service: XrefService) -> None:
    await acme(service)

    result = await match_one(LONELY_QB, connectors_of(ACME_SP, ACME_TW, LONELY_QB), service)

    assert result.action is MatchAction.NEW and result.link is not None and result.link.customer_created
    assert await service.customer_for(QB, "7") == result.customer_id
    assert result.candidates == () and result.review == ()


async def test_an_uncertain_match_is_its_own_customer_with_the_pair_in_review(service: XrefService) -> None:
    customer = await acme(service)

    result = await match_one(SHARED_INBOX_QB, connectors_of(ACME_SP, ACME_TW, SHARED_INBOX_QB), service)

    assert result.action is MatchAction.NEW and result.customer_id != customer
    assert [c.customer_id for c in result.candidates] == [customer]
    assert await open_pairs(service) == {pair_key((QB, "6"), result.candidates[0].best)}


async def test_matching_twice_changes_nothing(service: XrefService) -> None:
    fakes = connectors_of(ACME_SP, ACME_TW, ACME_QB, LONELY_QB)
    customer = await acme(service)
    first = [await match_one(r, fakes, service) for r in (ACME_QB, LONELY_QB)]

    again = [await match_one(r, fakes, service) for r in (ACME_QB, LONELY_QB)]

    assert [r.customer_id for r in again] == [r.customer_id for r in first]
    assert first[0].customer_id == customer
    assert again[0].link is not None and not again[0].link.moved
    assert again[1].action is MatchAction.KEPT and again[1].link is None


async def test_a_different_ruling_excludes_the_customer(service: XrefService) -> None:
    customer = await acme(service)
    await Stewardship(service.sessions).decide(DIFFERENT, "reject", [(((QB, "5"), (TW, "9")), None)], "steward:ann")

    result = await match_one(ACME_QB, connectors_of(ACME_SP, ACME_TW, ACME_QB), service)

    assert result.excluded == (customer,)
    assert result.action is MatchAction.NEW and result.customer_id != customer
    assert all(c.customer_id != customer for c in result.candidates)
    assert await open_pairs(service) == set()


async def test_a_same_ruling_places_the_record_whatever_the_score(service: XrefService) -> None:
    customer = await acme(service)
    await Stewardship(service.sessions).decide(SAME, "link", [(((QB, "7"), (SP, "1")), None)], "steward:ann")

    result = await match_one(LONELY_QB, connectors_of(ACME_SP, ACME_TW, LONELY_QB), service)

    assert result.action is MatchAction.LINKED and result.customer_id == customer
    info = await service.get(customer)
    assert info is not None
    assert {link.key: link.decided_by for link in info.links}[(QB, "7")] == "steward:ann"


async def test_a_link_a_person_made_is_never_moved_by_the_matcher(service: XrefService) -> None:
    await acme(service)
    elsewhere = (await service.link_record(QB, "5", None, confidence=1.0, evidence={}, decided_by="steward:bob")).customer_id

    result = await match_one(ACME_QB, connectors_of(ACME_SP, ACME_TW, ACME_QB), service)

    assert result.action is MatchAction.KEPT and result.customer_id == elsewhere
    assert await service.customer_for(QB, "5") == elsewhere


async def test_a_sure_match_moves_a_record_and_retires_its_empty_customer_into_the_target(
    service: XrefService,
) -> None:
    customer = await acme(service)
    alone = (await service.link_record(QB, "5", None, confidence=1.0, evidence={}, decided_by=DECIDED_BY)).customer_id

    result = await match_one(ACME_QB, connectors_of(ACME_SP, ACME_TW, ACME_QB), service)

    assert result.action is MatchAction.LINKED and result.customer_id == customer
    assert result.link is not None and result.link.moved and result.link.retired_customer_id == alone
    followed = await service.get(alone)
    assert followed is not None and followed.id == customer and followed.merged_from == (alone,)


async def test_a_system_down_is_reported_and_matching_goes_on(service: XrefService) -> None:
    customer = await acme(service)
    fakes = connectors_of(ACME_SP, ACME_TW, ACME_QB, down={TW: SourceUnavailable(TW, "timed out")})

    result = await match_one(ACME_QB, fakes, service)

    assert set(result.unavailable) == {TW}
    assert result.customer_id == customer


# -- link_record ----------------------------------------------------------------------------------


async def test_link_record_none_keeps_a_record_alone_in_its_customer(service: XrefService) -> None:
    first = await service.link_record(QB, "7", None, confidence=1.0, evidence={}, decided_by=DECIDED_BY)

    again = await service.link_record(QB, "7", None, confidence=1.0, evidence={}, decided_by=DECIDED_BY)

    assert first.customer_created and not again.customer_created
    assert again.customer_id == first.customer_id and not again.moved


async def test_link_record_none_splits_a_record_off_a_shared_customer(service: XrefService) -> None:
    customer = await acme(service)

    split = await service.link_record(TW, "9", None, confidence=1.0, evidence={}, decided_by="steward:ann")

    assert split.customer_created and split.moved and split.previous_customer_id == customer
    assert split.retired_customer_id is None  # SharePoint 1 is still there
    assert [link.key for link in (await service.links_for([customer]))[customer]] == [(SP, "1")]


async def test_link_record_refuses_unknown_and_retired_customers(service: XrefService) -> None:
    customer = await acme(service)
    with pytest.raises(XrefError, match="no customer"):
        await service.link_record(QB, "5", "cus_doesnotexist", confidence=1.0, evidence={}, decided_by="x")
    gone = (await service.link_record(QB, "5", None, confidence=1.0, evidence={}, decided_by="x")).customer_id
    await service.apply_clusters([], systems=[QB])  # QuickBooks 5 vanished: its customer is retired
    with pytest.raises(XrefError, match="retired"):
        await service.link_record(QB, "6", gone, confidence=1.0, evidence={}, decided_by="x")
    assert await service.customer_for(QB, "6") is None
    assert (await service.get(customer)) is not None


# -- add_review_items -----------------------------------------------------------------------------


async def test_add_review_items_touches_only_the_given_pairs(service: XrefService) -> None:
    stewardship = Stewardship(service.sessions)
    a, b, c = ((SP, "1"), (QB, "5")), ((SP, "2"), (QB, "6")), ((SP, "3"), (QB, "7"))
    await stewardship.sync_review_queue(1, [ReviewCandidate(pair=a, score=5.0, evidence={}),
                                            ReviewCandidate(pair=c, score=5.0, evidence={})])
    page = await stewardship.review_queue(first=10)
    resolved = next(item for item in page.items if item.pair == pair_key(*c))
    await stewardship.resolve_review(resolved.id, accept=False, decided_by="steward:ann")

    sync = await stewardship.add_review_items(None, [
        ReviewCandidate(pair=(b[1], b[0]), score=6.0, evidence={"email": {"level": "exact", "weight": 6.0}}),
        ReviewCandidate(pair=a, score=7.0, evidence={}),
        ReviewCandidate(pair=c, score=7.0, evidence={}),
    ])

    assert (sync.added, sync.updated, sync.dismissed, sync.open) == (1, 1, 0, 2)
    items = {item.pair: item for item in (await stewardship.review_queue(first=10)).items}
    assert set(items) == {pair_key(*a), pair_key(*b)}
    assert items[pair_key(*a)].score == 7.0
    assert (await stewardship.review_item(resolved.id)).status == "rejected"  # type: ignore[union-attr]
