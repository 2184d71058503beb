"""Steward decisions and the review queue, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors import SystemName
from xref import XrefError, create_sessions, upgrade
from xref._stewardship import DIFFERENT, SAME, ReviewCandidate, Stewardship, pair_key

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS


@pytest.fixture
async def stewardship(engine: AsyncEngine) -> Stewardship:
    await upgrade(engine)
    return Stewardship(create_sessions(engine))


def candidate(a: tuple[SystemName, str], b: tuple[SystemName, str], score: float = 4.0) -> ReviewCandidate:
    return ReviewCandidate(pair=(a, b), score=score, evidence={"name": {"level": "high", "weight": score}})


def test_a_pair_is_the_same_ruling_in_either_order() -> None:
    assert pair_key((QB, "1"), (SP, "2")) == pair_key((SP, "2"), (QB, "1"))
    with pytest.raises(XrefError):
        pair_key((SP, "2"), (SP, "2"))


async def test_a_later_ruling_on_a_pair_replaces_the_earlier_one(stewardship: Stewardship) -> None:
    await stewardship.decide(SAME, "link", [(((SP, "1"), (QB, "9")), "fp1")], "steward:ann")
    await stewardship.decide(DIFFERENT, "split", [(((QB, "9"), (SP, "1")), "fp2")], "steward:bob")

    [ruling] = await stewardship.decisions()

    assert ruling.verdict == DIFFERENT and ruling.action == "split"
    assert ruling.decided_by == "steward:bob" and ruling.fingerprint == "fp2"


async def test_a_ruling_needs_who_made_it_and_a_known_action(stewardship: Stewardship) -> None:
    with pytest.raises(XrefError, match="who"):
        await stewardship.decide(SAME, "link", [(((SP, "1"), (QB, "9")), None)], " ")
    with pytest.raises(XrefError, match="action"):
        await stewardship.decide(SAME, "guess", [(((SP, "1"), (QB, "9")), None)], "steward:ann")


async def test_rulings_whose_records_changed_leave_the_active_set(stewardship: Stewardship) -> None:
    [ruling] = await stewardship.decide(SAME, "link", [(((SP, "1"), (QB, "9")), "fp")], "steward:ann")

    await stewardship.set_status([ruling.id], "needs_review")

    assert await stewardship.decisions() == []
    assert [d.id for d in await stewardship.decisions(("needs_review",))] == [ruling.id]


async def test_review_queue_follows_the_latest_run_but_keeps_resolved_items(stewardship: Stewardship) -> None:
    a, b, c = (SP, "1"), (QB, "1"), (TW, "1")
    first = await stewardship.sync_review_queue(1, [candidate(a, b), candidate(b, c)])
    assert (first.added, first.open) == (2, 2)

    page = await stewardship.review_queue(10)
    resolved = next(i for i in page.items if set(i.pair) == {a, b})
    await stewardship.resolve_review(resolved.id, accept=True, decided_by="steward:ann")

    second = await stewardship.sync_review_queue(2, [candidate(a, b), candidate(a, c, 3.0)])

    assert (second.added, second.dismissed, second.open) == (1, 1, 1)
    assert [set(i.pair) for i in (await stewardship.review_queue(10)).items] == [{a, c}]
    assert (await stewardship.review_item(resolved.id)).status == "accepted"  # type: ignore[union-attr]


async def test_resolving_a_review_item_records_a_binding_ruling(stewardship: Stewardship) -> None:
    await stewardship.sync_review_queue(1, [candidate((SP, "1"), (QB, "1"))])
    [item] = (await stewardship.review_queue(10)).items

    ruling = await stewardship.resolve_review(item.id, accept=False, decided_by="steward:ann", fingerprint="fp")

    assert ruling.verdict == DIFFERENT and ruling.action == "reject_review"
    assert set(ruling.pair) == {(SP, "1"), (QB, "1")}
    with pytest.raises(XrefError, match="already rejected"):
        await stewardship.resolve_review(item.id, accept=True, decided_by="steward:ann")


async def test_review_queue_pages_with_opaque_cursors(stewardship: Stewardship) -> None:
    await stewardship.sync_review_queue(1, [candidate((SP, str(i)), (QB, str(i))) for i in range(5)])

    first = await stewardship.review_queue(2)
    second = await stewardship.review_queue(2, first.end_cursor)
    third = await stewardship.review_queue(2, second.end_cursor)

    ids = [i.id for page in (first, second, third) for i in page.items]
    assert len(ids) == len(set(ids)) == 5 == first.total
    assert first.has_next_page and second.has_next_page and not third.has_next_page


async def test_a_resolved_pair_whose_ruling_went_stale_is_asked_again(stewardship: Stewardship) -> None:
    a, b = (SP, "1"), (QB, "1")
    await stewardship.sync_review_queue(1, [candidate(a, b)])
    [item] = (await stewardship.review_queue(10)).items
    await stewardship.resolve_review(item.id, accept=True, decided_by="steward:ann")

    stale = ReviewCandidate(pair=(a, b), score=3.0, evidence={}, reason="decision_changed")
    synced = await stewardship.sync_review_queue(2, [stale])

    assert synced.open == 1
    [reopened] = (await stewardship.review_queue(10)).items
    assert reopened.id == item.id and reopened.reason == "decision_changed" and reopened.resolved_by is None
