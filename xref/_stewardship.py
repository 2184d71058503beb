"""Steward decisions and the review queue: what people decided, and what the matcher asks them.

Decisions are pair rulings keyed on two `(system, record id)`s, so they survive any
re-clustering; the matcher turns "same" into must-link and "different" into cannot-link.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors import SystemName
from xref._errors import InvalidCursor, XrefError
from xref._models import Decision, ReviewItem, utcnow

RecordKey = tuple[SystemName, str]
PairKey = tuple[RecordKey, RecordKey]

SAME, DIFFERENT = "same", "different"
ACTIONS = frozenset({"link", "split", "merge", "reject", "accept_review", "reject_review"})


def pair_key(a: RecordKey, b: RecordKey) -> PairKey:
    """The canonical order of a pair, so (a, b) and (b, a) are one ruling."""
    a = (SystemName(a[0]), str(a[1]))
    b = (SystemName(b[0]), str(b[1]))
    if a == b:
        raise XrefError(f"a record cannot be paired with itself: {a}")
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True, slots=True)
class DecisionInfo:
    id: int
    verdict: str
    action: str
    pair: PairKey
    fingerprint: str | None
    status: str
    decided_by: str
    decided_at: datetime
    note: str | None


@dataclass(frozen=True, slots=True)
class ReviewCandidate:
    """A pair for a person to look at, as the matcher found it."""

    pair: PairKey
    score: float
    evidence: Mapping[str, Any]
    reason: str = "uncertain"


@dataclass(frozen=True, slots=True)
class ReviewInfo:
    id: int
    pair: PairKey
    score: float
    evidence: Mapping[str, Any]
    reason: str
    status: str
    run_id: int | None
    created_at: datetime
    updated_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReviewPage:
    items: tuple[ReviewInfo, ...]
    end_cursor: str | None
    has_next_page: bool
    total: int


@dataclass(frozen=True, slots=True)
class ReviewSync:
    added: int
    updated: int
    dismissed: int
    open: int


def _pair_of(row: Decision | ReviewItem) -> PairKey:
    return ((SystemName(row.left_system), row.left_record_id), (SystemName(row.right_system), row.right_record_id))


def _decision_info(row: Decision) -> DecisionInfo:
    return DecisionInfo(
        id=row.id, verdict=row.verdict, action=row.action, pair=_pair_of(row), fingerprint=row.fingerprint,
        status=row.status, decided_by=row.decided_by, decided_at=row.decided_at, note=row.note,
    )


def _review_info(row: ReviewItem) -> ReviewInfo:
    return ReviewInfo(
        id=row.id, pair=_pair_of(row), score=row.score, evidence=dict(row.evidence), reason=row.reason,
        status=row.status, run_id=row.run_id, created_at=row.created_at, updated_at=row.updated_at,
        resolved_by=row.resolved_by, resolved_at=row.resolved_at,
    )


def _review_cursor(item_id: int) -> str:
    return base64.urlsafe_b64encode(f"r1:{item_id}".encode()).decode().rstrip("=")


def _decode_review_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, _, value = raw.partition(":")
        if tag != "r1":
            raise ValueError(tag)
        return int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor(f"invalid review cursor {cursor!r}") from exc


class Stewardship:
    """Steward decisions and the review queue, on the same database as the links."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def decide(
        self,
        verdict: str,
        action: str,
        pairs: Iterable[tuple[PairKey, str | None]],
        decided_by: str,
        note: str | None = None,
    ) -> list[DecisionInfo]:
        """Record one ruling per pair (replacing an earlier ruling on the same pair)."""
        if verdict not in (SAME, DIFFERENT):
            raise XrefError(f"verdict must be {SAME!r} or {DIFFERENT!r}, got {verdict!r}")
        if action not in ACTIONS:
            raise XrefError(f"unknown steward action {action!r}")
        if not decided_by.strip():
            raise XrefError("a decision needs who made it")
        now = utcnow()
        made: list[DecisionInfo] = []
        async with self._sessions.begin() as session:
            for raw_pair, fingerprint in pairs:
                (ls, lid), (rs, rid) = pair_key(*raw_pair)
                row = await session.scalar(
                    select(Decision).where(
                        Decision.left_system == ls, Decision.left_record_id == lid,
                        Decision.right_system == rs, Decision.right_record_id == rid,
                    )
                )
                if row is None:
                    row = Decision(left_system=ls, left_record_id=lid, right_system=rs, right_record_id=rid)
                    session.add(row)
                row.verdict, row.action, row.fingerprint = verdict, action, fingerprint
                row.status, row.decided_by, row.decided_at, row.note = "active", decided_by, now, note
                await session.flush()
                made.append(_decision_info(row))
        return made

    async def decisions(self, statuses: Sequence[str] = ("active",)) -> list[DecisionInfo]:
        async with self._sessions() as session:
            rows = await session.scalars(select(Decision).where(Decision.status.in_(statuses)).order_by(Decision.id))
            return [_decision_info(row) for row in rows]

    async def set_status(self, decision_ids: Iterable[int], status: str) -> None:
        ids = list(decision_ids)
        if not ids:
            return
        async with self._sessions.begin() as session:
            for row in await session.scalars(select(Decision).where(Decision.id.in_(ids))):
                row.status = status

    async def sync_review_queue(self, run_id: int | None, candidates: Sequence[ReviewCandidate]) -> ReviewSync:
        """Make the open queue say what this run found; items a person resolved are left as they are."""
        wanted = {pair_key(*c.pair): c for c in candidates}
        now = utcnow()
        added = updated = dismissed = 0
        async with self._sessions.begin() as session:
            existing = {_pair_of(row): row for row in await session.scalars(select(ReviewItem))}
            for pair, row in existing.items():
                if row.status != "open":
                    continue
                found = wanted.get(pair)
                if found is None:
                    row.status, row.updated_at = "dismissed", now
                    dismissed += 1
                elif row.score != found.score or row.evidence != dict(found.evidence) or row.reason != found.reason:
                    row.score, row.evidence, row.reason = found.score, dict(found.evidence), found.reason
                    row.run_id, row.updated_at = run_id, now
                    updated += 1
            for pair, found in wanted.items():
                known = existing.get(pair)
                if known is not None and known.status == "open":
                    continue
                # A resolved pair stays resolved, unless the ruling it made went stale: then it asks again.
                if known is not None and known.status in ("accepted", "rejected") and found.reason != "decision_changed":
                    continue
                if known is None:
                    (ls, lid), (rs, rid) = pair
                    known = ReviewItem(left_system=ls, left_record_id=lid, right_system=rs, right_record_id=rid,
                                       created_at=now)
                    session.add(known)
                row = known
                row.score, row.evidence, row.reason = found.score, dict(found.evidence), found.reason
                row.status, row.run_id, row.updated_at = "open", run_id, now
                row.resolved_by = row.resolved_at = None
                added += 1
            await session.flush()
            open_count = await session.scalar(select(func.count()).select_from(ReviewItem).where(ReviewItem.status == "open"))
        return ReviewSync(added=added, updated=updated, dismissed=dismissed, open=int(open_count or 0))

    async def add_review_items(self, run_id: int | None, candidates: Sequence[ReviewCandidate]) -> ReviewSync:
        """Put these pairs in the open queue, leaving every other item alone (one record matched, not a run).

        An open item is refreshed; an item a person resolved stays resolved (their ruling
        binds); a dismissed one is reopened, since the matcher is unsure of it again.
        """
        wanted = {pair_key(*c.pair): c for c in candidates}
        now = utcnow()
        added = updated = 0
        async with self._sessions.begin() as session:
            for pair, found in wanted.items():
                (ls, lid), (rs, rid) = pair
                row = await session.scalar(
                    select(ReviewItem).where(
                        ReviewItem.left_system == ls, ReviewItem.left_record_id == lid,
                        ReviewItem.right_system == rs, ReviewItem.right_record_id == rid,
                    )
                )
                if row is not None and row.status in ("accepted", "rejected"):
                    continue
                if row is not None and row.status == "open":
                    if row.score == found.score and row.evidence == dict(found.evidence) and row.reason == found.reason:
                        continue
                    updated += 1
                else:
                    if row is None:
                        row = ReviewItem(left_system=ls, left_record_id=lid, right_system=rs, right_record_id=rid,
                                         created_at=now)
                        session.add(row)
                    row.status, row.resolved_by, row.resolved_at = "open", None, None
                    added += 1
                row.score, row.evidence, row.reason = found.score, dict(found.evidence), found.reason
                row.run_id, row.updated_at = run_id, now
            await session.flush()
            open_count = await session.scalar(select(func.count()).select_from(ReviewItem).where(ReviewItem.status == "open"))
        return ReviewSync(added=added, updated=updated, dismissed=0, open=int(open_count or 0))

    async def review_queue(self, first: int, after: str | None = None, status: str = "open") -> ReviewPage:
        """Review items, highest score first would reorder under paging; so: oldest first, keyset on id."""
        if not 0 <= first <= 1000:
            raise ValueError(f"first must be between 0 and 1000, got {first}")
        conditions = [ReviewItem.status == status]
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(ReviewItem).where(*conditions))
            if after is not None:
                conditions.append(ReviewItem.id > _decode_review_cursor(after))
            rows = list(await session.scalars(
                select(ReviewItem).where(*conditions).order_by(ReviewItem.id).limit(first + 1)
            ))
        has_next = len(rows) > first
        rows = rows[:first]
        return ReviewPage(
            items=tuple(_review_info(r) for r in rows),
            end_cursor=_review_cursor(rows[-1].id) if rows else None,
            has_next_page=has_next,
            total=int(total or 0),
        )

    async def review_item(self, item_id: int) -> ReviewInfo | None:
        async with self._sessions() as session:
            row = await session.get(ReviewItem, item_id)
            return _review_info(row) if row is not None else None

    async def resolve_review(
        self, item_id: int, *, accept: bool, decided_by: str, fingerprint: str | None = None, note: str | None = None
    ) -> DecisionInfo:
        """Accept (the records are one customer) or reject a review item; the ruling binds later runs."""
        item = await self.review_item(item_id)
        if item is None:
            raise XrefError(f"no review item {item_id}")
        if item.status != "open":
            raise XrefError(f"review item {item_id} is already {item.status}")
        [decision] = await self.decide(
            SAME if accept else DIFFERENT, "accept_review" if accept else "reject_review",
            [(item.pair, fingerprint)], decided_by, note,
        )
        async with self._sessions.begin() as session:
            row = await session.get(ReviewItem, item_id)
            assert row is not None
            row.status = "accepted" if accept else "rejected"
            row.resolved_by, row.resolved_at = decided_by, utcnow()
            row.updated_at = row.resolved_at
        return decision
