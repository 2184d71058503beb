"""`dataQuality`: the scorecard of the latest reconciliation run, and earlier runs for a trend.

Answered from the stored run summaries (`c360 reconcile` writes them): counts and scores
only, so this reads no system and is cheap. Which customers failed a check is not kept
(that would be a copy of the data); `c360 reconcile --json` lists them at run time.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Annotated, Any

import strawberry

from connectors import SystemName
from resolvers.errors import bad_input
from resolvers.types import Info, System
from xref import ReconcileRunInfo, ReconcileRuns

__all__ = ["DataQualityQuery"]

#: The most runs one `dataQualityRuns` answer holds.
MAX_RUNS: int = 100


@strawberry.type(description="How many customers a system accounts for in a check.")
class SystemCount:
    system: System  # type: ignore[valid-type]
    count: int


@strawberry.type(description="Two systems (or one, twice: its duplicates) and the customers whose values there differ.")
class SystemPairCount:
    systems: list[System]  # type: ignore[valid-type]
    count: int


@strawberry.type(description="One check of a reconciliation run: customers failing it of those it applies to.")
class DataQualityCheck:
    check: str = strawberry.field(description="name, email, phone, address, website, status, duplicates, missing, "
                                  "dangling_links, review; or overall.")
    failing: int
    checked: int
    score: float = strawberry.field(description="Share of the checked customers that pass (1.0 when none is checked).")


@strawberry.type(description="Drift of one attribute: customers whose linked records disagree once normalized.")
class AttributeDrift:
    attribute: str
    drifted: int
    compared: int = strawberry.field(description="Customers with at least two records holding the attribute.")
    score: float
    systems: list[SystemCount] = strawberry.field(
        description="Per system: customers whose record there differs from the survivorship value."
    )
    pairs: list[SystemPairCount] = strawberry.field(description="Per pair of systems: customers whose values differ.")


@strawberry.type(description="Records a run found to repair (the survivorship value to write), per attribute and system.")
class RepairCount:
    attribute: str
    system: System  # type: ignore[valid-type]
    records: int


@strawberry.type(description="Differences no write can remove, per attribute and reason.")
class UnfixableCount:
    attribute: str
    reason: str = strawberry.field(description="ownership (the system does not receive the attribute), duplicate "
                                   "(the system keeps it unique; merge the records) or invalid (the system would "
                                   "refuse the value).")
    count: int


@strawberry.type(description="One reconciliation run (`c360 reconcile`): counts and scores only.")
class DataQualityRun:
    id: strawberry.ID
    started_at: datetime.datetime
    finished_at: datetime.datetime
    seconds: float
    kind: str = strawberry.field(description="check, or fix when the run also wrote repairs.")
    customers: int
    active_customers: int
    overall: DataQualityCheck = strawberry.field(description="Customers passing every check.")
    checks: list[DataQualityCheck]
    attributes: list[AttributeDrift]
    duplicates: list[SystemCount] = strawberry.field(description="Per system: customers with 2+ records there.")
    missing: list[SystemCount] = strawberry.field(description="Per system: active customers with no record there.")
    dangling_links: list[SystemCount] = strawberry.field(description="Per system: links to records it no longer has.")
    records: list[SystemCount] = strawberry.field(description="Records read per system.")
    unlinked_records: list[SystemCount] = strawberry.field(description="Per system: records no customer links to.")
    review_backlog: int = strawberry.field(description="Open review items when the run read the index.")
    repair_writes: int = strawberry.field(description="Writes (one per customer and attribute) that would remove "
                                          "the repairable drift; `c360 reconcile --fix --apply` makes them.")
    repairs: list[RepairCount]
    unfixable: list[UnfixableCount]


def _systems(counts: Mapping[str, Any]) -> list[SystemCount]:
    found = []
    for name, count in sorted(counts.items()):
        try:
            found.append(SystemCount(system=SystemName(name), count=int(count)))
        except ValueError:
            continue  # a system this gateway no longer knows
    return found


def _check(name: str, data: Mapping[str, Any]) -> DataQualityCheck:
    return DataQualityCheck(check=name, failing=int(data.get("failing", 0)), checked=int(data.get("checked", 0)),
                            score=float(data.get("score", 1.0)))


def _pairs(counts: Mapping[str, Any]) -> list[SystemPairCount]:
    found = []
    for key, count in sorted(counts.items()):
        try:
            systems = [SystemName(s) for s in key.split("+")]
        except ValueError:
            continue
        found.append(SystemPairCount(systems=systems, count=int(count)))
    return found


def _repairs(data: Mapping[str, Any]) -> list[RepairCount]:
    rows = []
    for attribute, systems in sorted(data.get("planned", {}).items()):
        for system, count in sorted(systems.items()):
            if system in {s.value for s in SystemName}:
                rows.append(RepairCount(attribute=attribute, system=SystemName(system), records=int(count)))
    return rows


def _unfixable(data: Mapping[str, Any]) -> list[UnfixableCount]:
    return [
        UnfixableCount(attribute=attribute, reason=reason, count=int(count))
        for attribute, reasons in sorted(data.get("unfixable", {}).items())
        for reason, count in sorted(reasons.items())
    ]


def run_type(run: ReconcileRunInfo) -> DataQualityRun:
    s = run.summary
    return DataQualityRun(
        id=strawberry.ID(str(run.id)), started_at=run.started_at, finished_at=run.finished_at, seconds=run.seconds,
        kind=run.kind, customers=run.customers, active_customers=int(s.get("active_customers", 0)),
        overall=_check("overall", s.get("overall", {})),
        checks=[_check(name, data) for name, data in s.get("checks", {}).items()],
        attributes=[
            AttributeDrift(attribute=name, drifted=int(data.get("drifted", 0)), compared=int(data.get("compared", 0)),
                           score=float(data.get("score", 1.0)), systems=_systems(data.get("systems", {})),
                           pairs=_pairs(data.get("pairs", {})))
            for name, data in s.get("attributes", {}).items()
        ],
        duplicates=_systems(s.get("duplicates", {}).get("systems", {})),
        missing=_systems(s.get("missing", {})),
        dangling_links=_systems(s.get("dangling_links", {})),
        records=_systems(s.get("records", {})),
        unlinked_records=_systems(s.get("unlinked_records", {})),
        review_backlog=int(s.get("review", {}).get("open_items", 0)),
        repair_writes=int(s.get("repairs", {}).get("writes", 0)),
        repairs=_repairs(s.get("repairs", {})),
        unfixable=_unfixable(s.get("repairs", {})),
    )


def _runs(info: Info) -> ReconcileRuns:
    return ReconcileRuns(info.context.services.xref.sessions)


@strawberry.type
class DataQualityQuery:
    @strawberry.field(description="The latest reconciliation run's scorecard (`c360 reconcile`); null before the first.")
    async def data_quality(self, info: Info) -> DataQualityRun | None:
        latest = await _runs(info).latest()
        return run_type(latest) if latest is not None else None

    @strawberry.field(description="The last reconciliation runs, oldest first: drift over time.")
    async def data_quality_runs(
        self, info: Info,
        last: Annotated[int, strawberry.argument(description=f"How many runs, 1 to {MAX_RUNS}.")] = 10,
    ) -> list[DataQualityRun]:
        if not 1 <= last <= MAX_RUNS:
            raise bad_input(f"`last` must be between 1 and {MAX_RUNS}, got {last}", "last")
        return [run_type(run) for run in await _runs(info).last(last)]
