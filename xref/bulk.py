"""Bulk match (`c360 match`): read every system through its connector, cluster, link, record the run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from connectors import Connector, SystemName
from xref._service import XrefService
from xref.matching import DECIDED_BY, DEFAULT_MAX_KEY_GROUP, DEFAULT_REGION, RecordKeys, cluster_records, match_keys

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
    #: Generic email/phone values the giant-cluster guard refused as keys, per rule.
    ignored_keys: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["records"] = {str(system): n for system, n in self.records.items()}
        return data


async def _read_keys(
    system: SystemName,
    connector: Connector,
    region: str,
    progress: Callable[[SystemName, int], None] | None,
) -> list[RecordKeys]:
    # Only the keys are kept: whole records of 100k customers per system would not fit comfortably.
    keys: list[RecordKeys] = []
    async for record in connector.iterate():
        if record.system != system:
            raise ValueError(f"connector for {system} yielded a {record.system} record")
        keys.append(match_keys(record, region=region))
        if progress is not None and len(keys) % PROGRESS_EVERY == 0:
            progress(system, len(keys))
    if progress is not None:
        progress(system, len(keys))
    return keys


async def _read_all(
    connectors: Mapping[SystemName, Connector],
    region: str,
    progress: Callable[[SystemName, int], None] | None,
) -> dict[SystemName, list[RecordKeys]]:
    """Read all systems concurrently; the first failure cancels the other reads and is raised as is."""
    tasks = {
        system: asyncio.create_task(_read_keys(system, connector, region, progress), name=f"xref-read-{system}")
        for system, connector in connectors.items()
    }
    try:
        await asyncio.gather(*tasks.values())
    except BaseException:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        raise
    return {system: task.result() for system, task in tasks.items()}


async def run_bulk_match(
    connectors: Mapping[SystemName, Connector],
    service: XrefService,
    *,
    progress: Callable[[SystemName, int], None] | None = None,
    region: str = DEFAULT_REGION,
    max_key_group: int = DEFAULT_MAX_KEY_GROUP,
    batch_size: int = 1000,
) -> MatchSummary:
    """Match every record of every given system and bring the links up to date.

    Links of systems not in `connectors` are left alone. If any system cannot be read
    completely, nothing is changed (a partial read would unlink the unread records) and
    the connector's error is raised; the run is still recorded, with the error.
    `progress(system, records_read_so_far)` is called from the event loop.
    """
    started = time.perf_counter()
    run_id = await service.start_run()
    try:
        keys = await _read_all(connectors, region, progress)
        records = {system: len(system_keys) for system, system_keys in keys.items()}
        flat = [k for system_keys in keys.values() for k in system_keys]
        del keys  # let the per-record keys go once clustered, before the links are loaded
        # Clustering is CPU-bound; off the event loop so a gateway running this stays responsive.
        result = await asyncio.to_thread(cluster_records, flat, max_key_group=max_key_group)
        del flat
        applied = await service.apply_clusters(
            result.clusters, systems=list(connectors), decided_by=DECIDED_BY, batch_size=batch_size
        )
    except BaseException as exc:
        await asyncio.shield(service.finish_run(run_id, {"error": type(exc).__name__}))
        raise
    summary = MatchSummary(
        run_id=run_id,
        records=records,
        customers=len(result.clusters),
        customers_in_2_systems=sum(1 for c in result.clusters if len(c.systems) >= 2),
        customers_in_3_systems=sum(1 for c in result.clusters if len(c.systems) >= 3),
        within_system_duplicates=sum(c.duplicates for c in result.clusters),
        links_added=applied.links_added,
        links_removed=applied.links_removed,
        links_unchanged=applied.links_unchanged,
        links_moved=applied.links_moved,
        links_updated=applied.links_updated,
        customers_created=applied.customers_created,
        customers_retired=applied.customers_retired,
        ignored_keys=dict(result.ignored_keys),
        seconds=round(time.perf_counter() - started, 3),
    )
    await service.finish_run(run_id, summary.as_dict())
    return summary
