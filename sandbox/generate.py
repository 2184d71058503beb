"""Seeded sandbox data: the same real-world customers, messily spread over the three systems.

`generate` replaces every simulator's records under `<data_dir>/sandbox/` and
writes `ground_truth.csv`, which says which real-world customer each customer
record belongs to, so matching quality can be measured. The shapes written are
those of `sandbox/STORAGE.md`; the simulators read them at start.

With `drift` > 0 the data has *known* drift instead (`sandbox/_gen_drift.py`): users
make differences of form only, a `drift` share of (entity, attribute) pairs get a
record with another value, and `drift_truth.csv` lists each of them.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from random import Random
from typing import Any

from sandbox._credentials import SandboxCredentials
from sandbox._gen_clock import DAY, Timeline
from sandbox._gen_drift import DriftPlanner, DriftTruthWriter, RecordDrift
from sandbox._gen_entity import QUICKBOOKS, SHAREPOINT, SYSTEMS, TEAMWORK, Entity, EntityFactory
from sandbox._gen_quickbooks import QuickBooksBuilder
from sandbox._gen_sharepoint import SharePointBuilder
from sandbox._gen_sink import GroundTruthWriter, RecordSink
from sandbox._gen_teamwork import TeamworkBuilder

__all__ = ["GenerationSummary", "Progress", "generate"]

Progress = Callable[[str, int, int], None]
"""`progress(stage, done, total)`: stage "customers" counts entities, "finishing" the files closed."""

_DUPLICATE_RATE = 0.02
_PROGRESS_STEPS = 200


@dataclass(frozen=True, slots=True)
class GenerationSummary:
    """What a run produced; `records` and `duplicates` count customer records per system."""

    customers: int
    seed: int
    records: dict[str, int]
    projects: int
    invoices: int
    documents: int
    duplicates: dict[str, int]
    leads: int
    quickbooks_only: int
    inactive: int
    seconds: float
    files: dict[str, str] = field(default_factory=dict)
    #: With known drift: the rate asked for, and the (entity, attribute) pairs drifted, per attribute.
    drift: float = 0.0
    drifted: dict[str, int] = field(default_factory=dict)

    @property
    def total_records(self) -> int:
        """Every stored record, customers and their documents, projects and invoices (owner company too)."""
        return sum(self.records.values()) + 1 + self.projects + self.invoices + self.documents

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total_records": self.total_records}


@dataclass(order=True, slots=True)
class _PendingDuplicate:
    due: int
    seq: int
    system: str = field(compare=False)
    entity: Entity = field(compare=False)


def generate(
    data_dir: Path,
    *,
    customers: int = 300,
    seed: int = 42,
    credentials: SandboxCredentials,
    progress: Progress | None = None,
    drift: float = 0.0,
) -> GenerationSummary:
    """Replace the sandbox records in `data_dir` with `customers` seeded real-world customers.

    Deterministic: the same seed gives the same records and ground truth. Memory stays
    bounded (records are written in chunks), so 100k customers is fine. `drift` (0..1)
    makes the drift known: see the module docstring; 0 gives the usual messy data.
    """
    if customers < 0:
        raise ValueError("customers must be >= 0")
    if not 0.0 <= drift <= 1.0:
        raise ValueError("drift must be between 0 and 1")
    started = time.perf_counter()
    out = Path(data_dir) / "sandbox"
    out.mkdir(parents=True, exist_ok=True)
    timeline = Timeline.for_seed(seed)
    sinks = {
        SHAREPOINT: RecordSink(out / "sharepoint.sqlite3"),
        TEAMWORK: RecordSink(out / "teamwork.sqlite3"),
        QUICKBOOKS: RecordSink(out / "quickbooks.sqlite3", meta={"realm_id": credentials.quickbooks_realm_id}),
    }
    truth = GroundTruthWriter(out / "ground_truth.csv")
    known = drift > 0
    planner = DriftPlanner(Random(f"{seed}:drift"), drift) if known else None
    drift_truth = DriftTruthWriter(out / "drift_truth.csv") if known else None
    if not known:
        (out / "drift_truth.csv").unlink(missing_ok=True)  # a previous run's truth does not describe this data
    # One random stream per concern, so changing how one system is messed up leaves the others' data alone.
    sharepoint = SharePointBuilder(sinks[SHAREPOINT], Random(f"{seed}:sharepoint"), timeline, known_drift=known)
    teamwork = TeamworkBuilder(sinks[TEAMWORK], Random(f"{seed}:teamwork"), timeline, known_drift=known)
    quickbooks = QuickBooksBuilder(sinks[QUICKBOOKS], Random(f"{seed}:quickbooks"), timeline, known_drift=known)
    factory = EntityFactory(Random(f"{seed}:entities"), timeline, customers)
    dup_rng = Random(f"{seed}:duplicates")
    order = itertools.count()
    pending: list[_PendingDuplicate] = []
    window = max(10, min(2_500, customers // 20))
    step = max(1, customers // _PROGRESS_STEPS)
    leads = walkins = 0

    def emit(entity: Entity, system: str, created: int, *, at: int, duplicate: bool = False,
             plan: RecordDrift | None = None) -> None:
        if system == SHAREPOINT:
            record_id = sharepoint.customer(entity, created=created, duplicate=duplicate, drift=plan)
        elif system == TEAMWORK:
            record_id = teamwork.company(entity, created=created, duplicate=duplicate, drift=plan)
        else:
            record_id = quickbooks.customer(entity, created=created, duplicate=duplicate, drift=plan)
        truth.row(entity.entity_id, system, record_id)
        if not duplicate and dup_rng.random() < _DUPLICATE_RATE:
            heapq.heappush(pending, _PendingDuplicate(at + dup_rng.randint(1, window), next(order), system, entity))

    def emit_due(upto: int, now: int) -> None:
        while pending and pending[0].due <= upto:
            dup = heapq.heappop(pending)
            # Typed in again later, by someone who did not find the first record.
            created = timeline.clamp(max(now, _first_seen(dup.entity, dup.system, timeline)) + dup_rng.randint(0, 20) * DAY)
            emit(dup.entity, dup.system, created, at=upto, duplicate=True)

    try:
        teamwork.owner()
        for index in range(customers):
            entity = factory.make(index)
            leads += entity.lifecycle == "lead"
            walkins += entity.lifecycle == "walkin"
            plans: dict[str, RecordDrift] = {}
            if planner is not None and drift_truth is not None:
                plans, made = planner.plan(entity)
                drift_truth.rows(entity.entity_id, made)
            for system in SYSTEMS:
                if system in entity.systems:
                    emit(entity, system, _first_seen(entity, system, timeline), at=index, plan=plans.get(system))
            emit_due(index, entity.first_contact)
            if progress is not None and ((index + 1) % step == 0 or index + 1 == customers):
                progress("customers", index + 1, customers)
        emit_due(customers + window + 1, timeline.as_of - 30 * DAY)
        if progress is not None:
            progress("finishing", 0, len(sinks))
        for done, sink in enumerate(sinks.values(), start=1):
            sink.close()
            if progress is not None:
                progress("finishing", done, len(sinks))
        truth.close()
        if drift_truth is not None:
            drift_truth.close()
    except BaseException:
        truth.abort()
        if drift_truth is not None:
            drift_truth.abort()
        for sink in sinks.values():
            sink.abort()
        raise
    return GenerationSummary(
        customers=customers,
        seed=seed,
        records={SHAREPOINT: sharepoint.customers, TEAMWORK: teamwork.companies, QUICKBOOKS: quickbooks.customers},
        projects=teamwork.projects,
        invoices=quickbooks.invoices,
        documents=sharepoint.documents,
        duplicates={SHAREPOINT: sharepoint.duplicates, TEAMWORK: teamwork.duplicates, QUICKBOOKS: quickbooks.duplicates},
        leads=leads,
        quickbooks_only=walkins,
        inactive=quickbooks.inactive,
        seconds=round(time.perf_counter() - started, 3),
        files={name: str(sink.path) for name, sink in sinks.items()} | {"ground_truth": str(truth.path)}
        | ({"drift_truth": str(drift_truth.path)} if drift_truth is not None else {}),
        drift=drift,
        drifted=dict(planner.counts) if planner is not None else {},
    )


def _first_seen(entity: Entity, system: str, timeline: Timeline) -> int:
    """When `system` got its record: the CRM at first contact, the others after the sale."""
    if system == SHAREPOINT or entity.lifecycle == "walkin":
        return entity.first_contact
    offset = (entity.first_contact % 10 + 1) * DAY if system == TEAMWORK else (entity.first_contact % 30 + 1) * DAY
    return timeline.clamp(entity.won + offset)
