"""Bulk match (`c360 match`): read every system through its connector, cluster, link, record the run."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from connectors import Connector, SystemName
from xref._match_types import MatchRecord
from xref._types import LinkChange
from xref.matching import Cluster
from xref._service import XrefService
from xref._stewardship import Stewardship
from xref.engine import DECIDED_BY, EngineSettings, run_engine
from xref.normalize import DEFAULT_REGION, normalize_record

__all__ = ["MatchSummary", "run_bulk_match"]

#: Report progress every this many records per system (and once at each system's end).
PROGRESS_EVERY: Final = 500


@dataclass(frozen=True, slots=True)
class MatchSummary:
    """What a bulk match read and changed; stored as the MatchRun's stats."""

    run_id: int
    records: dict[SystemName, int]
    customers: int
    #: Customers with records in at least 2 (resp. 3) different systems.
    customers_in_2_systems: int
    customers_in_3_systems: int
    #: Records beyond the first of their system in a customer (typed in twice).
    within_system_duplicates: int
    links_added: int
    links_removed: int
    links_unchanged: int
    links_moved: int
    links_updated: int
    customers_created: int
    customers_retired: int
    #: Candidate pairs scored (after blocking), and merges the clustering refused, per reason.
    pairs_compared: int = 0
    refused_merges: dict[str, int] = field(default_factory=dict)
    #: Open review items after this run, and the steward decisions applied / sent back to review.
    review_items: int = 0
    decisions_applied: int = 0
    decisions_stale: int = 0
    dry_run: bool = False
    seconds: float = 0.0
    #: Within-system duplicates per system.
    duplicates_by_system: dict[SystemName, int] = field(default_factory=dict)
    #: With a dry run: every link the run would add, remove or move.
    changes: tuple[LinkChange, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["records"] = {str(system): n for system, n in self.records.items()}
        data["duplicates_by_system"] = {str(system): n for system, n in self.duplicates_by_system.items()}
        data.pop("changes")
        return data


async def _read_system(
    system: SystemName,
    connector: Connector,
    records: list[MatchRecord],
    region: str,
    progress: Callable[[SystemName, int], None] | None,
) -> int:
    # Only the normalized comparable values are kept, never whole records, and only for the run.
    count = 0
    async for record in connector.iterate():
        if record.system != system:
            raise ValueError(f"connector for {system} yielded a {record.system} record")
        records.append(normalize_record(record, len(records), region=region))  # one event loop: no race
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(system, count)
    if progress is not None:
        progress(system, count)
    return count


async def _read_all(
    connectors: Mapping[SystemName, Connector],
    region: str,
    progress: Callable[[SystemName, int], None] | None,
) -> tuple[list[MatchRecord], dict[SystemName, int]]:
    """Read all systems concurrently; the first failure cancels the other reads and is raised as is."""
    records: list[MatchRecord] = []
    tasks = {
        system: asyncio.create_task(_read_system(system, connector, records, region, progress), name=f"xref-read-{system}")
        for system, connector in connectors.items()
    }
    try:
        await asyncio.gather(*tasks.values())
    except BaseException:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        raise
    return records, {system: task.result() for system, task in tasks.items()}


def _duplicates_by_system(clusters: Sequence[Cluster], systems: Mapping[SystemName, int]) -> dict[SystemName, int]:
    found = dict.fromkeys(systems, 0)
    for item in clusters:
        per_system = Counter(system for system, _ in item.members)
        for system, n in per_system.items():
            found[system] = found.get(system, 0) + n - 1
    return found


async def run_bulk_match(
    connectors: Mapping[SystemName, Connector],
    service: XrefService,
    *,
    progress: Callable[[SystemName, int], None] | None = None,
    region: str = DEFAULT_REGION,
    settings: EngineSettings | None = None,
    dry_run: bool = False,
    batch_size: int = 1000,
) -> MatchSummary:
    """Match every record of every given system and bring the links up to date.

    Steward decisions always win; pairs the matcher is unsure of go to the review queue.
    Links of systems not in `connectors` are left alone. If any system cannot be read
    completely, nothing is changed (a partial read would unlink the unread records) and
    the connector's error is raised; the run is still recorded, with the error.
    With `dry_run` the summary says what would change and nothing is written.
    `progress(system, records_read_so_far)` is called from the event loop.
    """
    started = time.perf_counter()
    stewardship = Stewardship(service.sessions)
    run_id = 0 if dry_run else await service.start_run()
    try:
        records, counts = await _read_all(connectors, region, progress)
        decisions = await stewardship.decisions()
        # Scoring and clustering are CPU-bound; off the event loop so a gateway running this stays responsive.
        result = await asyncio.to_thread(run_engine, records, decisions, settings)
        del records
        applied = await service.apply_clusters(
            result.clusters, systems=list(connectors), decided_by=DECIDED_BY, batch_size=batch_size, dry_run=dry_run
        )
        if dry_run:
            open_items = len(result.review)
        else:
            open_items = (await stewardship.sync_review_queue(run_id, result.review)).open
            await stewardship.set_status(result.stale_decisions, "needs_review")
    except BaseException as exc:
        if not dry_run:
            await asyncio.shield(service.finish_run(run_id, {"error": type(exc).__name__}))
        raise
    clusters = result.clusters
    summary = MatchSummary(
        run_id=run_id,
        records=counts,
        customers=len(clusters),
        customers_in_2_systems=sum(1 for c in clusters if len(c.systems) >= 2),
        customers_in_3_systems=sum(1 for c in clusters if len(c.systems) >= 3),
        within_system_duplicates=sum(c.duplicates for c in clusters),
        links_added=applied.links_added,
        links_removed=applied.links_removed,
        links_unchanged=applied.links_unchanged,
        links_moved=applied.links_moved,
        links_updated=applied.links_updated,
        customers_created=applied.customers_created,
        customers_retired=applied.customers_retired,
        pairs_compared=result.pairs_compared,
        refused_merges=dict(result.refused_merges),
        review_items=open_items,
        decisions_applied=result.decisions_applied,
        decisions_stale=len(result.stale_decisions),
        dry_run=dry_run,
        seconds=round(time.perf_counter() - started, 3),
        duplicates_by_system=_duplicates_by_system(clusters, counts),
        changes=applied.changes,
    )
    if not dry_run:
        await service.finish_run(run_id, summary.as_dict())
    return summary
