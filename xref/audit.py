"""The audit log: every change made through the gateway, who made it, and how each system took it.

The only place the gateway keeps attribute values (before/after), as the one rule allows
(architecture.md). Append-only: there is no update or delete here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from xref._errors import InvalidCursor
from xref._models import AuditRecord, utcnow

__all__ = ["AuditEntry", "AuditLog", "AuditPage", "MAX_AUDIT_PAGE", "audit_cursor"]

MAX_AUDIT_PAGE: Final = 1000
_CURSOR_TAG: Final = "a1"
_CHANGE_KEYS: Final = frozenset({"attribute", "before", "after"})


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited mutation as recorded (a snapshot, not a live row)."""

    id: int
    at: datetime
    subject: str
    customer_id: str | None
    mutation: str
    mutation_id: str
    idempotency_key: str | None
    #: ({"attribute": ..., "before": ..., "after": ...}, ...)
    changes: tuple[Mapping[str, Any], ...]
    #: {system: {"status": ..., "record_id": ..., "error": ...}}
    outcomes: Mapping[str, Mapping[str, Any]]
    request_id: str | None


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of a customer's history, newest first; pass `end_cursor` as `after` for the next."""

    entries: tuple[AuditEntry, ...]
    has_next: bool
    end_cursor: str | None


def _entry(row: AuditRecord) -> AuditEntry:
    return AuditEntry(
        id=row.id, at=row.at, subject=row.subject, customer_id=row.customer_id, mutation=row.mutation,
        mutation_id=row.mutation_id, idempotency_key=row.idempotency_key,
        changes=tuple(dict(change) for change in row.changes),
        outcomes={system: dict(outcome) for system, outcome in row.outcomes.items()},
        request_id=row.request_id,
    )


def audit_cursor(entry_id: int) -> str:
    """The opaque cursor of one entry: `history(after=...)` continues with the entries older than it."""
    return base64.urlsafe_b64encode(f"{_CURSOR_TAG}:{entry_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, _, value = raw.partition(":")
        if tag != _CURSOR_TAG:
            raise ValueError(tag)
        return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor(f"invalid audit cursor {cursor!r}") from exc


def _checked_changes(changes: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    checked = [dict(change) for change in changes]
    for change in checked:
        if not _CHANGE_KEYS <= change.keys():
            raise ValueError(f"an audited change needs attribute, before and after; got keys {sorted(change)}")
    return checked


def _checked_outcomes(outcomes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    checked = {str(system): dict(outcome) for system, outcome in outcomes.items()}
    for system, outcome in checked.items():
        if "status" not in outcome:
            raise ValueError(f"the audited outcome of {system} has no status")
    return checked


class AuditLog:
    """Append and read the audit log; each call is its own transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(
        self,
        *,
        subject: str,
        mutation: str,
        mutation_id: str,
        changes: Iterable[Mapping[str, Any]],
        outcomes: Mapping[str, Mapping[str, Any]],
        customer_id: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        at: datetime | None = None,
    ) -> AuditEntry:
        """Append one entry. Values must be JSON-ready.

        Each change needs `attribute`, `before` and `after`; each outcome a `status`
        (ValueError otherwise, so a half-filled entry never reaches the log).
        """
        row = AuditRecord(
            at=at or utcnow(), subject=subject, customer_id=customer_id, mutation=mutation,
            mutation_id=mutation_id, idempotency_key=idempotency_key, changes=_checked_changes(changes),
            outcomes=_checked_outcomes(outcomes), request_id=request_id,
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return _entry(row)

    async def history(self, customer_id: str, first: int, after: str | None = None) -> AuditPage:
        """A customer's entries, newest first, `first` at most, after the entry `after` points at.

        Keyset on the id, so entries appended while a client pages do not shift its pages.
        """
        if not 0 <= first <= MAX_AUDIT_PAGE:
            raise ValueError(f"first must be between 0 and {MAX_AUDIT_PAGE}, got {first}")
        conditions = [AuditRecord.customer_id == customer_id]
        if after is not None:
            conditions.append(AuditRecord.id < _decode_cursor(after))
        async with self._sessions() as session:
            rows = list(await session.scalars(
                select(AuditRecord).where(*conditions).order_by(AuditRecord.id.desc()).limit(first + 1)
            ))
        page = rows[:first]
        return AuditPage(
            entries=tuple(_entry(row) for row in page),
            has_next=len(rows) > first,
            end_cursor=audit_cursor(page[-1].id) if page else None,
        )

    async def entries_for_mutation(self, mutation_id: str) -> list[AuditEntry]:
        """Every entry of one mutation (its write, then any compensation), oldest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(AuditRecord).where(AuditRecord.mutation_id == mutation_id).order_by(AuditRecord.id)
            )
            return [_entry(row) for row in rows]
