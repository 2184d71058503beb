"""Bulk match end to end over fake connectors, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterable

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors import SourceRecord, SourceUnavailable, SystemName
from tests.support.fakes import SAMPLE_RECORDS, FakeConnector, make_record
from xref import MatchRun, XrefService, create_sessions
from xref.bulk import run_bulk_match
from xref.evaluate import evaluate_service

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS
Build = Callable[[Iterable[SourceRecord]], dict[SystemName, FakeConnector]]

RECORDS = SAMPLE_RECORDS


async def test_bulk_match_links_the_same_customer_across_systems(service: XrefService, fake_connectors: Build) -> None:
    summary = await run_bulk_match(fake_connectors(RECORDS), service)

    assert summary.records == {SP: 4, TW: 2, QB: 2}
    assert summary.customers == 4
    assert (summary.customers_in_2_systems, summary.customers_in_3_systems) == (2, 1)
    assert summary.within_system_duplicates == 1
    assert (summary.links_added, summary.links_removed, summary.links_unchanged) == (8, 0, 0)
    acme = await service.customer_for(SP, "1")
    assert acme is not None
    assert await service.customer_for(TW, "10") == acme == await service.customer_for(QB, "100")
    assert await service.customer_for(SP, "3") == await service.customer_for(SP, "4")
    assert await service.customer_for(SP, "2") == await service.customer_for(QB, "101") != acme


async def test_rerunning_on_unchanged_data_changes_nothing(service: XrefService, fake_connectors: Build) -> None:
    await run_bulk_match(fake_connectors(RECORDS), service)
    before = {r.key: await service.customer_for(*r.key) for r in RECORDS}

    summary = await run_bulk_match(fake_connectors(RECORDS), service)

    assert (summary.links_added, summary.links_removed, summary.links_moved, summary.links_updated) == (0, 0, 0, 0)
    assert summary.links_unchanged == 8 and summary.customers_created == 0
    assert {r.key: await service.customer_for(*r.key) for r in RECORDS} == before


async def test_ids_survive_records_added_and_deleted_in_the_sources(
    service: XrefService, fake_connectors: Build
) -> None:
    await run_bulk_match(fake_connectors(RECORDS), service)
    acme = await service.customer_for(SP, "1")
    changed = [r for r in RECORDS if r.key != (TW, "10")] + [
        make_record(TW, "12", name="Acme", email="ap@acme.com"),
        make_record(QB, "102", name="Brand New", email="new@new.com"),
    ]

    summary = await run_bulk_match(fake_connectors(changed), service)

    assert (summary.links_added, summary.links_removed, summary.customers_created) == (2, 1, 1)
    assert await service.customer_for(TW, "12") == acme == await service.customer_for(QB, "100")
    assert await service.customer_for(TW, "10") is None


async def test_progress_is_reported_per_system(service: XrefService, fake_connectors: Build) -> None:
    seen: dict[SystemName, list[int]] = {}

    await run_bulk_match(fake_connectors(RECORDS), service, progress=lambda s, n: seen.setdefault(s, []).append(n))

    assert {system: counts[-1] for system, counts in seen.items()} == {SP: 4, TW: 2, QB: 2}


async def test_a_system_failing_mid_read_changes_no_links_and_the_error_is_raised(
    service: XrefService, engine: AsyncEngine, fake_connectors: Build
) -> None:
    await run_bulk_match(fake_connectors(RECORDS), service)
    before = await service.counts()
    connectors = fake_connectors(RECORDS)
    connectors[QB].fail_with = SourceUnavailable(QB, "down")
    connectors[QB].fail_after = 1

    with pytest.raises(SourceUnavailable):
        await run_bulk_match(connectors, service)

    assert await service.counts() == before
    async with create_sessions(engine)() as session:
        runs = (await session.scalars(select(MatchRun).order_by(MatchRun.id))).all()
    assert [run.stats.get("error") for run in runs] == [None, "SourceUnavailable"]
    assert all(run.finished_at is not None for run in runs)
    assert runs[0].stats["customers"] == 4


async def test_the_index_holds_no_names_emails_or_phones(
    service: XrefService, engine: AsyncEngine, fake_connectors: Build
) -> None:
    await run_bulk_match(fake_connectors(RECORDS), service)

    async with engine.connect() as connection:
        dump = ""
        for table in ("customer", "link", "match_run"):
            dump += repr((await connection.execute(text(f"SELECT * FROM {table}"))).all())

    for record in RECORDS:
        for value in (record.name, record.email, record.phone):
            if value:
                assert value.strip().casefold() not in dump.casefold()
    assert "acme" not in dump.casefold() and "4446538" not in dump


def _synthetic(entities: int, seed: int = 3) -> tuple[list[SourceRecord], str]:
    """Entities spread over the systems with typing differences, and their ground truth CSV."""
    rng = random.Random(seed)
    records: list[SourceRecord] = []
    truth = io.StringIO()
    truth.write("entity,system,record_id\n")
    next_id = {SP: 1, TW: 1, QB: 1}
    for e in range(entities):
        email = f"owner{e}@company{e}.com"
        phone = f"415{e:07d}"[:10]
        for system in [s for s in (SP, TW, QB) if rng.random() < 0.7] or [QB]:
            record_id = str(next_id[system])
            next_id[system] += 1
            kind = rng.randrange(3)
            records.append(
                make_record(
                    system,
                    record_id,
                    name=f"Company {e} Inc" if kind else f"THE COMPANY {e}",
                    email=email.upper() if kind == 0 else email if kind == 1 else None,
                    phone=None if kind == 1 else f"({phone[:3]}) {phone[3:6]}-{phone[6:]}",
                    postal_code=f"{94000 + e % 900:05d}",
                )
            )
            truth.write(f"e{e},{system},{record_id}\n")
    return records, truth.getvalue()


async def test_bulk_match_of_a_few_thousand_records_scores_against_ground_truth(
    service: XrefService, fake_connectors: Build
) -> None:
    records, truth = _synthetic(1500)

    summary = await run_bulk_match(fake_connectors(records), service, batch_size=500)
    scores = await evaluate_service(service, io.StringIO(truth))

    assert sum(summary.records.values()) == len(records) == scores.records
    assert summary.customers == 1500
    assert (scores.precision, scores.recall, scores.unlinked) == (1.0, 1.0, 0)


async def test_duplicates_are_reported_per_system(service: XrefService, fake_connectors: Build) -> None:
    summary = await run_bulk_match(fake_connectors(RECORDS), service)

    assert summary.duplicates_by_system == {SP: 1, TW: 0, QB: 0}


async def test_dry_run_lists_the_links_a_stricter_threshold_would_change_and_writes_nothing(
    service: XrefService, fake_connectors: Build
) -> None:
    from xref._score_thresholds import MatchThresholds
    from xref.engine import EngineSettings

    await run_bulk_match(fake_connectors(RECORDS), service)
    before = {r.key: await service.customer_for(*r.key) for r in RECORDS}
    strict = EngineSettings(thresholds=MatchThresholds(link=100.0, review=50.0))

    preview = await run_bulk_match(fake_connectors(RECORDS), service, settings=strict, dry_run=True)

    assert preview.dry_run and preview.links_moved == 4
    moved = {(c.system, c.record_id) for c in preview.changes if c.kind == "move"}
    assert len(moved) == 4 and all(before[key] is not None for key in moved)
    assert all(c.before == before[(c.system, c.record_id)] for c in preview.changes)
    assert {r.key: await service.customer_for(*r.key) for r in RECORDS} == before
    again = await run_bulk_match(fake_connectors(RECORDS), service)
    assert (again.links_added, again.links_removed, again.links_moved) == (0, 0, 0)
