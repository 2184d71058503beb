"""The cross-reference index as tables: golden customers, their links to source records, match runs.

Only identities live here (architecture.md, "The one rule"): no names, emails or
addresses. Evidence holds which rule matched and a short hash of the value, never the value.
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Float, ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Explicit constraint names, so SQLite and PostgreSQL (and Alembic diffs) agree on them.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_ID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32 letters and digits, in ASCII order so ids sort
_ID_PREFIX = "cus_"
GOLDEN_ID_LENGTH = len(_ID_PREFIX) + 20


_TIME_CHARS, _SEQUENCE_CHARS, _RANDOM_CHARS = 9, 4, 7
_id_clock_lock = threading.Lock()
_id_clock: list[int] = [0, 0]  # last millisecond used, sequence within it


def _base32(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        chars.append(_ID_ALPHABET[digit])
    return "".join(reversed(chars))


def new_golden_id() -> str:
    """A fresh golden id: "cus_" + 20 base32 characters that sort in the order they were issued.

    Time (ms) + a per-process sequence + 35 random bits: listing customers in id order is
    listing them oldest first, and stays stable as new ones arrive. Never reused: golden
    rows are never deleted and the id is the primary key, so a collision with any id ever
    issued fails the insert instead of merging two customers.
    """
    with _id_clock_lock:
        now = max(int(time.time() * 1000), _id_clock[0])
        _id_clock[1] = _id_clock[1] + 1 if now == _id_clock[0] else 0
        if _id_clock[1] >= 32**_SEQUENCE_CHARS:  # more than a million ids in one ms: borrow the next ms
            now, _id_clock[1] = now + 1, 0
        _id_clock[0] = now
        sequence = _id_clock[1]
    random_part = "".join(secrets.choice(_ID_ALPHABET) for _ in range(_RANDOM_CHARS))
    return _ID_PREFIX + _base32(now, _TIME_CHARS) + _base32(sequence, _SEQUENCE_CHARS) + random_part


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both dialects.

    SQLite drops the offset on the way in; without this, values read back are naive
    there and aware on PostgreSQL, and comparing them raises.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class GoldenCustomer(Base):
    """A stable identity for one real-world customer.

    Rows are never deleted: an id whose records all moved elsewhere is marked
    `merged_into` the id that took them (or only `retired_at` when its records are gone),
    so a bookmarked id keeps resolving.
    """

    __tablename__ = "customer"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    merged_into: Mapped[str | None] = mapped_column(ForeignKey("customer.id"), default=None)


class Link(Base):
    """One source record `(system, record_id)` belonging to one golden customer."""

    __tablename__ = "link"
    __table_args__ = (UniqueConstraint("system", "record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), index=True)
    system: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(128))
    confidence: Mapped[float] = mapped_column(Float)
    #: Which keys matched, e.g. {"matched": [{"rule": "email", "value_hash": "3f2a9c1b0e"}]}; never raw values.
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Who decided: "matcher:exact-v1" for the matcher, "steward:<user>" for a person.
    decided_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MatchRun(Base):
    """One bulk match: when it ran and what it found (counts only)."""

    __tablename__ = "match_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Decision(Base):
    """A data steward's ruling on a pair of source records, which every later run respects.

    Every steward action reduces to pair rulings: link/merge/accept-review say "same",
    split/reject/reject-review say "different". `fingerprint` hashes the compared values of
    both records when the ruling was made; when they change, the ruling goes back to
    review (status "needs_review") instead of silently standing or silently falling.
    """

    __tablename__ = "decision"
    __table_args__ = (UniqueConstraint("left_system", "left_record_id", "right_system", "right_record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: "same" or "different".
    verdict: Mapped[str] = mapped_column(String(16))
    #: The steward action that made it: link, split, merge, reject, accept_review, reject_review.
    action: Mapped[str] = mapped_column(String(16))
    left_system: Mapped[str] = mapped_column(String(32))
    left_record_id: Mapped[str] = mapped_column(String(128))
    right_system: Mapped[str] = mapped_column(String(32))
    right_record_id: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    #: "active", "needs_review" (the compared values changed) or "revoked".
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[str | None] = mapped_column(String(500), default=None)


class ReviewItem(Base):
    """A candidate pair the matcher was not sure about (or a ruling whose records changed)."""

    __tablename__ = "review_item"
    __table_args__ = (UniqueConstraint("left_system", "left_record_id", "right_system", "right_record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    left_system: Mapped[str] = mapped_column(String(32))
    left_record_id: Mapped[str] = mapped_column(String(128))
    right_system: Mapped[str] = mapped_column(String(32))
    right_record_id: Mapped[str] = mapped_column(String(128))
    score: Mapped[float] = mapped_column(Float)
    #: Per attribute: {"level": ..., "weight": ...}; never raw values.
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: "uncertain" (score between the thresholds) or "decision_changed".
    reason: Mapped[str] = mapped_column(String(32))
    #: "open", "accepted", "rejected" or "dismissed" (a later run no longer finds the pair uncertain).
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    run_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_by: Mapped[str | None] = mapped_column(String(64), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


# -- write path (issue 6): the outbox, idempotency keys and the audit log -------------------------
#
# Customer ids below are plain strings, not foreign keys: a create is queued and audited before
# its golden id exists, and these rows must stay readable whatever happens to the index.


class OutboxOperation(Base):
    """One write to one source system that the system has not confirmed yet (or that gave up).

    The payload holds the canonical changes to apply, which the one rule allows: the outbox
    is the gateway's own state, not a copy of a source.
    """

    __tablename__ = "outbox_operation"
    __table_args__ = (
        Index("ix_outbox_operation_status_next_attempt_at", "status", "next_attempt_at"),
        # A write to a record looks for pending writes to it (to queue behind them).
        Index("ix_outbox_operation_system_record_id_status", "system", "record_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: Groups the per-system operations of one mutation (to compensate them together).
    mutation_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    system: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(String(128), default=None)
    #: "update", "create", "compensate", ...
    action: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The version token the change was computed against (the system's opaque concurrency token).
    base_version: Mapped[str | None] = mapped_column(String(128), default=None)
    #: "pending", "applied" or "dead".
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: A worker's lease: nobody else claims the row before this time.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IdempotencyKey(Base):
    """A client's idempotency key: who holds it, for which input, and the result to replay."""

    __tablename__ = "idempotency_key"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: The mutation name.
    operation: Mapped[str] = mapped_column(String(100))
    #: sha256 hex of the canonical input (xref.idempotency.request_hash).
    request_hash: Mapped[str] = mapped_column(String(64))
    #: "in_progress" or "done".
    state: Mapped[str] = mapped_column(String(16))
    result: Mapped[Any | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    #: Token of the request that claimed the key; only it may complete or release it.
    owner: Mapped[str] = mapped_column(String(64))


class AuditRecord(Base):
    """One change made through the gateway: who, when, what (before/after) and how each system took it."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Who: "anonymous" in the demo, the authenticated subject otherwise.
    subject: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    mutation: Mapped[str] = mapped_column(String(100))
    mutation_id: Mapped[str] = mapped_column(String(64), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    #: [{"attribute": ..., "before": ..., "after": ...}]
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: {system: {"status": ..., "record_id": ..., "error": ...}}
    outcomes: Mapped[dict[str, dict[str, Any]]] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(128), default=None)
