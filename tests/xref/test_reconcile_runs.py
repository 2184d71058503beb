"""Reconciliation run summaries: stored, listed oldest first, pruned, and refused when they hold more than counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from xref import ReconcileRuns, SummaryNotCountsOnly, XrefService

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
COUNTS = {"checks": {"email": {"failing": 3, "checked": 40, "score": 0.925}},
          "attributes": {"email": {"systems": {"quickbooks": 2, "teamwork": 1}, "pairs": {"quickbooks+sharepoint": 2}}}}


async def add(runs: ReconcileRuns, n: int, **kwargs: object) -> None:
    for i in range(n):
        await runs.add(started_at=T0 + timedelta(hours=i), finished_at=T0 + timedelta(hours=i, seconds=3),
                       kind="check", customers=40, overall_score=round(0.9 + i / 100, 2), summary=COUNTS, **kwargs)  # type: ignore[arg-type]


async def test_runs_come_back_oldest_first_with_their_counts(service: XrefService) -> None:
    runs = ReconcileRuns(service.sessions)
    assert await runs.latest() is None

    await add(runs, 3)

    listed = await runs.last(2)
    assert [r.overall_score for r in listed] == [0.91, 0.92]
    latest = await runs.latest()
    assert latest is not None and latest.summary == COUNTS and latest.seconds == 3.0
    assert latest.started_at == T0 + timedelta(hours=2)


async def test_keep_deletes_the_oldest_runs(service: XrefService) -> None:
    runs = ReconcileRuns(service.sessions)

    await add(runs, 5, keep=2)

    assert await runs.count() == 2
    assert [r.overall_score for r in await runs.last(10)] == [0.93, 0.94]


@pytest.mark.parametrize("summary", [
    {"customers": ["cus_2222222222222222abcd"]},
    {"attributes": {"email": {"value": "info@acme.com"}}},
    {"info@acme.com": 1},
    {"checks": {"name": {"failing": None}}},
])
async def test_anything_but_counts_keyed_by_names_is_refused(service: XrefService, summary: dict[str, object]) -> None:
    runs = ReconcileRuns(service.sessions)

    with pytest.raises(SummaryNotCountsOnly):
        await runs.add(started_at=T0, finished_at=T0, kind="check", customers=1, overall_score=1.0, summary=summary)
    assert await runs.count() == 0
