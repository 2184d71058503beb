"""The audit log records who changed what and pages a customer's history newest first with opaque cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from xref import AuditEntry, AuditLog, InvalidCursor, create_engine, create_sessions, upgrade

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
async def audit(engine: AsyncEngine) -> AuditLog:
    await upgrade(engine)
    return AuditLog(create_sessions(engine))


async def record(audit: AuditLog, n: int = 0, **overrides: Any) -> AuditEntry:
    fields: dict[str, Any] = {
        "subject": "anonymous", "mutation": "updateCustomer", "mutation_id": f"mut-{n}", "customer_id": "cus_a",
        "changes": [{"attribute": "email", "before": f"old{n}@example.com", "after": f"new{n}@example.com"}],
        "outcomes": {"quickbooks": {"status": "APPLIED", "record_id": "58"}},
        "at": T0 + timedelta(seconds=n),
    }
    fields.update(overrides)
    return await audit.record(**fields)


async def test_a_recorded_entry_keeps_who_what_and_each_systems_outcome(audit: AuditLog) -> None:
    entry = await audit.record(
        subject="anonymous", mutation="updateCustomer", mutation_id="mut-1", customer_id="cus_a",
        idempotency_key="key-1", request_id="req-1", at=T0,
        changes=[{"attribute": "phone", "before": None, "after": "+33 1 23 45 67 89"}],
        outcomes={
            "quickbooks": {"status": "APPLIED", "record_id": "58"},
            "teamwork": {"status": "PENDING", "record_id": "9001", "error": "429"},
        },
    )

    assert entry.id > 0
    assert (entry.at, entry.subject, entry.mutation, entry.mutation_id) == (T0, "anonymous", "updateCustomer", "mut-1")
    assert (entry.customer_id, entry.idempotency_key, entry.request_id) == ("cus_a", "key-1", "req-1")
    assert entry.changes == ({"attribute": "phone", "before": None, "after": "+33 1 23 45 67 89"},)
    assert entry.outcomes["teamwork"] == {"status": "PENDING", "record_id": "9001", "error": "429"}
    assert (await audit.history("cus_a", first=10)).entries == (entry,)


async def test_history_pages_newest_first_through_cursors(audit: AuditLog) -> None:
    recorded = [await record(audit, n) for n in range(7)]
    await record(audit, 99, customer_id="cus_other")

    pages, after = [], None
    while True:
        page = await audit.history("cus_a", first=3, after=after)
        pages.append(page)
        if not page.has_next:
            break
        after = page.end_cursor

    assert [len(p.entries) for p in pages] == [3, 3, 1]
    assert [p.has_next for p in pages] == [True, True, False]
    seen = [e for p in pages for e in p.entries]
    assert seen == list(reversed(recorded))
    assert pages[-1].end_cursor is not None


async def test_entries_added_while_paging_do_not_shift_the_pages(audit: AuditLog) -> None:
    recorded = [await record(audit, n) for n in range(4)]
    first = await audit.history("cus_a", first=2)

    newer = await record(audit, 10)
    second = await audit.history("cus_a", first=2, after=first.end_cursor)

    assert [e.id for e in first.entries + second.entries] == [r.id for r in reversed(recorded)]
    assert (await audit.history("cus_a", first=1)).entries == (newer,)


async def test_an_empty_history_has_no_next_page_and_no_cursor(audit: AuditLog) -> None:
    page = await audit.history("cus_nobody", first=10)

    assert (page.entries, page.has_next, page.end_cursor) == ((), False, None)


async def test_first_zero_only_says_whether_there_are_entries(audit: AuditLog) -> None:
    await record(audit)

    page = await audit.history("cus_a", first=0)

    assert (page.entries, page.has_next, page.end_cursor) == ((), True, None)


async def test_history_refuses_foreign_cursors_and_bad_page_sizes(audit: AuditLog) -> None:
    for cursor in ("not-a-cursor", "cjE6NQ", ""):  # garbage, a review-queue cursor ("r1:5"), empty
        with pytest.raises(InvalidCursor):
            await audit.history("cus_a", first=10, after=cursor)
    for first in (-1, 1001):
        with pytest.raises(ValueError):
            await audit.history("cus_a", first=first)


async def test_entries_for_mutation_lists_one_mutations_entries_oldest_first(audit: AuditLog) -> None:
    write = await record(audit, 1, mutation_id="mut-x")
    await record(audit, 2, mutation_id="mut-y")
    compensation = await record(
        audit, 3, mutation_id="mut-x", mutation="compensate",
        outcomes={"quickbooks": {"status": "COMPENSATED", "record_id": "58"}},
    )

    assert await audit.entries_for_mutation("mut-x") == [write, compensation]
    assert await audit.entries_for_mutation("mut-none") == []


async def test_a_create_before_indexing_is_recorded_without_a_customer(audit: AuditLog) -> None:
    entry = await record(audit, mutation="createCustomer", customer_id=None)

    assert entry.customer_id is None
    assert await audit.entries_for_mutation(entry.mutation_id) == [entry]


async def test_half_filled_changes_or_outcomes_are_refused(audit: AuditLog) -> None:
    with pytest.raises(ValueError, match="attribute, before and after"):
        await record(audit, changes=[{"attribute": "email", "after": "x@example.com"}])
    with pytest.raises(ValueError, match="no status"):
        await record(audit, outcomes={"quickbooks": {"record_id": "58"}})
    assert (await audit.history("cus_a", first=10)).entries == ()


async def test_the_log_survives_a_restart(engine: AsyncEngine, database_url: str) -> None:
    await upgrade(engine)
    entry = await record(AuditLog(create_sessions(engine)))
    await engine.dispose()

    restarted = create_engine(database_url)
    try:
        assert (await AuditLog(create_sessions(restarted)).history("cus_a", first=10)).entries == (entry,)
    finally:
        await restarted.dispose()
