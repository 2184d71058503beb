"""Reconciliation run summaries: what each `c360 reconcile` run counted, kept for "drift over time".

Counts only (architecture.md, "The one rule"): a summary holds numbers keyed by check,
attribute and system names, never a customer id, name or value. `ReconcileRuns.add`
refuses anything else, so a careless caller cannot turn this table into a copy of the data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import JSON, Float, Index, Integer, String, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from xref._errors import XrefError
from xref._models import Base, UTCDateTime

__all__ = ["MAX_RUNS_LISTED", "ReconcileRun", "ReconcileRunInfo", "ReconcileRuns", "SummaryNotCountsOnly"]

#: The most runs one `last` call returns.
MAX_RUNS_LISTED: Final = 1000
#: Keys of a summary: check, attribute and system names ("quickbooks+sharepoint" for a pair), never data.
_KEY: Final = re.compile(r"^[a-z][a-z0-9_+]{0,63}$")


class SummaryNotCountsOnly(XrefError):
    """A run summary held something other than counts keyed by names (it could be customer data)."""


class ReconcileRun(Base):
    """One reconciliation run: when, how long, and its counts (JSON, counts only)."""

    __tablename__ = "reconcile_run"
    __table_args__ = (Index("ix_reconcile_run_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seconds: Mapped[float] = mapped_column(Float)
    #: "check" (read and count) or "fix" (read, count, and repair: the summary then has "repairs").
    kind: Mapped[str] = mapped_column(String(16))
    customers: Mapped[int] = mapped_column(Integer)
    overall_score: Mapped[float] = mapped_column(Float)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)


@dataclass(frozen=True, slots=True)
class ReconcileRunInfo:
    id: int
    started_at: datetime
    finished_at: datetime
    seconds: float
    kind: str
    customers: int
    overall_score: float
    summary: Mapping[str, Any]


def _info(row: ReconcileRun) -> ReconcileRunInfo:
    return ReconcileRunInfo(
        id=row.id, started_at=row.started_at, finished_at=row.finished_at, seconds=row.seconds, kind=row.kind,
        customers=row.customers, overall_score=row.overall_score, summary=dict(row.summary),
    )


def check_counts_only(summary: Any, path: str = "summary") -> None:
    """Raises SummaryNotCountsOnly unless `summary` is nested mappings of name keys to numbers."""
    if isinstance(summary, Mapping):
        for key, value in summary.items():
            if not isinstance(key, str) or not _KEY.match(key):
                raise SummaryNotCountsOnly(f"{path}: key {key!r} is not a check, attribute or system name")
            check_counts_only(value, f"{path}.{key}")
        return
    if summary is None or isinstance(summary, bool) or not isinstance(summary, (int, float)):
        raise SummaryNotCountsOnly(f"{path}: {type(summary).__name__} is not a count or a score")


class ReconcileRuns:
    """Adds and lists run summaries (one unit of work per call)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(
        self,
        *,
        started_at: datetime,
        finished_at: datetime,
        kind: str,
        customers: int,
        overall_score: float,
        summary: Mapping[str, Any],
        keep: int | None = None,
    ) -> ReconcileRunInfo:
        """Store one run; with `keep`, runs older than the newest `keep` are deleted in the same transaction."""
        check_counts_only(summary)
        async with self._sessions.begin() as session:
            row = ReconcileRun(
                started_at=started_at, finished_at=finished_at,
                seconds=round((finished_at - started_at).total_seconds(), 3), kind=kind, customers=customers,
                overall_score=overall_score, summary=dict(summary),
            )
            session.add(row)
            await session.flush()
            info = _info(row)
            if keep is not None and keep > 0:
                cutoff = await session.scalar(
                    select(ReconcileRun.id).order_by(ReconcileRun.id.desc()).offset(keep).limit(1)
                )
                if cutoff is not None:
                    await session.execute(delete(ReconcileRun).where(ReconcileRun.id <= cutoff))
        return info

    async def latest(self) -> ReconcileRunInfo | None:
        runs = await self.last(1)
        return runs[0] if runs else None

    async def last(self, n: int) -> list[ReconcileRunInfo]:
        """The newest `n` runs (at most MAX_RUNS_LISTED), oldest first."""
        if not 0 <= n <= MAX_RUNS_LISTED:
            raise ValueError(f"n must be between 0 and {MAX_RUNS_LISTED}, got {n}")
        async with self._sessions() as session:
            rows = list(await session.scalars(select(ReconcileRun).order_by(ReconcileRun.id.desc()).limit(n)))
        return [_info(row) for row in reversed(rows)]

    async def count(self) -> int:
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(ReconcileRun)) or 0)
