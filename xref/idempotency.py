"""Idempotency keys: a mutation retried with the same key is answered from its first run, never run twice.

The first request to claim a key owns it until it completes (the result is stored for
replay) or releases it. Exactly one of any number of concurrent claimers wins, in one
process or many: the win is the INSERT that the primary key lets through, never a
check-then-insert, which two requests could pass together.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from xref._errors import XrefError
from xref._models import IdempotencyKey, utcnow
from xref.db import canonical_json

__all__ = [
    "Claim",
    "Claimed",
    "IdempotencyClaimLost",
    "IdempotencyStore",
    "InProgress",
    "MAX_KEY_LENGTH",
    "Mismatch",
    "Replay",
    "request_hash",
]

MAX_KEY_LENGTH: Final = 200
IN_PROGRESS, DONE = "in_progress", "done"
#: Insert/inspect rounds before giving up; each extra round needs the key to vanish or expire in between.
_CLAIM_ROUNDS: Final = 5


class IdempotencyClaimLost(XrefError):
    """`complete` by a request that no longer owns the key (it expired and another request took it, or was released)."""


def request_hash(operation: str, payload: Mapping[str, Any]) -> str:
    """sha256 hex of the operation and its input as canonical JSON (sorted keys, no spacing).

    Equal inputs hash equally whatever their key order. `payload` must be JSON-ready:
    a datetime or a set raises TypeError instead of hashing some repr of it.
    """
    text = canonical_json({"operation": operation, "input": payload})
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Claimed:
    """The caller owns the key: run the mutation, then `complete` (or `release` if it wrote nothing)."""

    owner: str


@dataclass(frozen=True, slots=True)
class Replay:
    """The key already ran with this same input: answer with `result`, do nothing else."""

    result: Any


@dataclass(frozen=True, slots=True)
class InProgress:
    """Another request holds the key right now (see `IdempotencyStore.wait_for`)."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The key was first used for `operation` with another input (hash `request_hash`): a client bug, refuse it."""

    operation: str
    request_hash: str


Claim = Claimed | Replay | InProgress | Mismatch


class IdempotencyStore:
    """Claims, results and expiry of idempotency keys, shared by every gateway process on the database.

    A completed key is kept `ttl_s` seconds. A claim still in progress lapses after
    `in_progress_ttl_s`, so a process that died mid-mutation does not block its key for
    a whole day; it must exceed the longest time a mutation can take, or a slow
    mutation's key can be claimed again while it runs (its `complete` then raises).
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], ttl_s: float = 86400.0, *, in_progress_ttl_s: float = 300.0
    ) -> None:
        if ttl_s <= 0 or in_progress_ttl_s <= 0:
            raise ValueError(f"ttl_s and in_progress_ttl_s must be > 0, got {ttl_s}, {in_progress_ttl_s}")
        self._sessions = sessions
        self._ttl = timedelta(seconds=ttl_s)
        self._in_progress_ttl = timedelta(seconds=min(in_progress_ttl_s, ttl_s))

    async def claim(self, key: str, operation: str, request_hash: str, now: datetime | None = None) -> Claim:
        """Try to own `key` for this request; see `Claim` for what each answer asks of the caller.

        An expired key counts as absent and is replaced.
        """
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise ValueError(f"an idempotency key has 1 to {MAX_KEY_LENGTH} characters, got {len(key)}")
        now = now or utcnow()
        for _ in range(_CLAIM_ROUNDS):
            owner = secrets.token_hex(16)
            try:
                async with self._sessions.begin() as session:
                    await session.execute(insert(IdempotencyKey).values(
                        key=key, operation=operation, request_hash=request_hash, state=IN_PROGRESS, result=None,
                        created_at=now, expires_at=now + self._in_progress_ttl, owner=owner,
                    ))
                return Claimed(owner)
            except IntegrityError:
                pass  # someone holds the key (or held it): see what they left
            async with self._sessions.begin() as session:
                row = await session.get(IdempotencyKey, key)
                if row is None:
                    continue  # released or purged since our insert failed
                if row.expires_at < now:
                    # Only the expired row: a fresh claim another request made meanwhile survives.
                    await session.execute(delete(IdempotencyKey).where(
                        IdempotencyKey.key == key, IdempotencyKey.expires_at < now
                    ))
                    continue
                if row.operation != operation or row.request_hash != request_hash:
                    return Mismatch(operation=row.operation, request_hash=row.request_hash)
                if row.state == DONE:
                    return Replay(row.result)
                return InProgress()
        raise XrefError(f"could not claim idempotency key {key!r}: it kept changing hands")

    async def complete(self, key: str, owner: str, result: Any, now: datetime | None = None) -> None:
        """Store the mutation's JSON-ready result for replay; the key then lives `ttl_s` from now.

        Raises IdempotencyClaimLost if `owner` no longer holds the key in progress.
        """
        now = now or utcnow()
        async with self._sessions.begin() as session:
            done = await session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.key == key, IdempotencyKey.owner == owner, IdempotencyKey.state == IN_PROGRESS)
                .values(state=DONE, result=result, expires_at=now + self._ttl)
            )
            if not getattr(done, "rowcount", 0):
                raise IdempotencyClaimLost(f"idempotency key {key!r} is not held by this request")

    async def release(self, key: str, owner: str) -> bool:
        """Give up a claim without a result (the mutation failed before writing anything), so a retry runs afresh.

        False when `owner` did not hold the key in progress; a completed key is never released.
        """
        async with self._sessions.begin() as session:
            gone = await session.execute(delete(IdempotencyKey).where(
                IdempotencyKey.key == key, IdempotencyKey.owner == owner, IdempotencyKey.state == IN_PROGRESS
            ))
        return bool(getattr(gone, "rowcount", 0))

    async def wait_for(self, key: str, timeout_s: float, poll_s: float = 0.05) -> Replay | InProgress:
        """For the loser of a race: poll until the holder completes (Replay) or `timeout_s` passes (InProgress).

        Also InProgress, at once, when the key disappears or expires while waiting (the holder
        released it or died): there is nothing to replay, and claiming again is the next step.
        """
        if timeout_s < 0 or poll_s <= 0:
            raise ValueError(f"timeout_s must be >= 0 and poll_s > 0, got {timeout_s}, {poll_s}")
        deadline = time.monotonic() + timeout_s
        while True:
            async with self._sessions() as session:
                row = (await session.execute(
                    select(IdempotencyKey.state, IdempotencyKey.result, IdempotencyKey.expires_at)
                    .where(IdempotencyKey.key == key)
                )).one_or_none()
            if row is None or row.expires_at < utcnow():
                return InProgress()
            if row.state == DONE:
                return Replay(row.result)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return InProgress()
            await asyncio.sleep(min(poll_s, remaining))

    async def purge_expired(self, now: datetime | None = None) -> int:
        """Delete keys past their expiry (claims left by dead processes too); returns how many."""
        now = now or utcnow()
        async with self._sessions.begin() as session:
            gone = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < now))
        return int(getattr(gone, "rowcount", 0))
