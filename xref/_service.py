"""XrefService: every read and write of the identity index goes through here."""

from __future__ import annotations

import base64
import binascii
import functools
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

from sqlalchemy import ColumnElement, Table, Text, and_, bindparam, delete, exists, func, insert, select, tuple_, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors import SystemName
from xref._errors import InvalidCursor, XrefError
from xref._models import GoldenCustomer, Link, MatchRun, new_golden_id, utcnow
from xref._types import LinkChange, ApplyResult, CustomerInfo, CustomerPage, LinkInfo
from xref.assign import assign_golden_ids
from xref.db import canonical_json
from xref.matching import DECIDED_BY, Cluster, RecordKey

__all__ = ["MAX_PAGE_SIZE", "LinkOutcome", "RemovedLinks", "XrefService"]

MAX_PAGE_SIZE: Final = 1000
#: Ids per IN (...) so a huge request stays under both drivers' bind-parameter limits.
_IN_CHUNK: Final = 1000
_CURSOR_PREFIX: Final = "c1:"
_MAX_MERGE_HOPS: Final = 64

T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _encode_cursor(customer_id: str) -> str:
    return base64.urlsafe_b64encode((_CURSOR_PREFIX + customer_id).encode()).decode().rstrip("=")


def customer_cursor(customer_id: str) -> str:
    """The opaque cursor that pages on from `customer_id` (the same one `list_customers` issues)."""
    return _encode_cursor(customer_id)


def _decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor(f"invalid cursor {cursor!r}") from exc
    if not raw.startswith(_CURSOR_PREFIX) or len(raw) == len(_CURSOR_PREFIX):
        raise InvalidCursor(f"invalid cursor {cursor!r}")
    return raw[len(_CURSOR_PREFIX) :]


_NO_EVIDENCE: Final[Mapping[str, Any]] = {"matched": []}


def _evidence_fingerprint(evidence: str | Mapping[str, Any]) -> int:
    """A small stand-in for evidence when comparing 300k links (the text itself would double the memory).

    Stored evidence is canonical JSON (xref.db.create_engine's serializer), so equal
    evidence gives equal text. Text written another way only costs one needless update.
    """
    return hash(evidence if isinstance(evidence, str) else canonical_json(evidence))


def _link_info(link: Link) -> LinkInfo:
    return LinkInfo(
        customer_id=link.customer_id,
        system=SystemName(link.system),
        record_id=link.record_id,
        confidence=link.confidence,
        evidence=link.evidence,
        decided_by=link.decided_by,
        created_at=link.created_at,
        updated_at=link.updated_at,
    )


#: Entries after which expired ones are swept out of the read cache.
_READ_CACHE_SWEEP_AT: Final = 10_000

P = ParamSpec("P")
R = TypeVar("R")


def _invalidates(
    method: Callable[Concatenate[XrefService, P], Awaitable[R]],
) -> Callable[Concatenate[XrefService, P], Awaitable[R]]:
    """A write: the read cache is cleared before it starts and after it ends (committed or not)."""

    @functools.wraps(method)
    async def write(self: XrefService, *args: P.args, **kwargs: P.kwargs) -> R:
        self._invalidate()
        try:
            return await method(self, *args, **kwargs)
        finally:
            self._invalidate()

    return write


class _RollBack(Exception):
    """Leaves a transaction without committing, carrying what it would have done."""

    def __init__(self, result: ApplyResult) -> None:
        super().__init__("dry run")
        self.result = result


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    """What `XrefService.link_record` did to one record's link."""

    customer_id: str
    #: The customer the record was linked to before (None: it was not linked).
    previous_customer_id: str | None
    #: A golden id was issued for the record.
    customer_created: bool
    #: The previous customer, when the record was its last link and it is now retired into `customer_id`.
    retired_customer_id: str | None

    @property
    def moved(self) -> bool:
        return self.previous_customer_id is not None and self.previous_customer_id != self.customer_id


@dataclass(frozen=True, slots=True)
class RemovedLinks:
    """What `XrefService.remove_links` did to one customer's links."""

    customer_id: str
    #: The links removed, as they were.
    removed: tuple[LinkInfo, ...]
    #: Asked for, but not linked to `customer_id` (any more): left as they are.
    skipped: tuple[tuple[SystemName, str], ...]
    #: The customer had no link left and is now retired (with nothing to merge into).
    retired: bool


class XrefService:
    """Queries and updates of the cross-reference index.

    Holds only a session factory, so one instance can be shared by every request;
    each call is its own unit of work.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, read_cache_ttl_s: float = 0.0) -> None:
        """`read_cache_ttl_s` > 0 keeps `get` and `links_for` answers that long in this process.

        Writes through this service clear it at once; writes by another process (a
        `c360 match` run, another gateway) show after at most the TTL. Off by default.
        """
        self._sessions = sessions
        self._ttl = read_cache_ttl_s
        self._got: dict[str, tuple[float, CustomerInfo | None]] = {}
        self._linked: dict[str, tuple[float, list[LinkInfo]]] = {}
        #: Changes with every write through this service; caches built on index reads compare it.
        self.generation = 0

    def _invalidate(self) -> None:
        self.generation += 1
        self._got.clear()
        self._linked.clear()

    def _evict_expired(self, now: float) -> None:
        """Drop expired entries once the cache has grown, so a long-running gateway does not keep every id it saw."""
        for entries in (self._got, self._linked):
            if len(entries) >= _READ_CACHE_SWEEP_AT:
                for key in [k for k, (expires, _) in entries.items() if expires <= now]:
                    del entries[key]

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The session factory, for services that keep their tables beside the links (stewardship)."""
        return self._sessions

    # -- reads ----------------------------------------------------------------------------

    async def links_for(self, customer_ids: Sequence[str]) -> dict[str, list[LinkInfo]]:
        """Links of each id (an empty list for unknown ids), in one query per 1000 ids.

        Ids are taken literally: a merged id has no links; use `get` to follow merges.
        """
        if self._ttl <= 0:
            return await self._links_for(customer_ids)
        now = time.monotonic()
        found = {cid: hit[1] for cid in customer_ids if (hit := self._linked.get(cid)) is not None and hit[0] > now}
        missing = [cid for cid in customer_ids if cid not in found]
        if missing:
            loaded = await self._links_for(missing)
            self._evict_expired(now)
            for cid, links in loaded.items():
                self._linked[cid] = (now + self._ttl, links)
            found.update(loaded)
        return {cid: list(found[cid]) for cid in dict.fromkeys(customer_ids)}

    async def _links_for(self, customer_ids: Sequence[str]) -> dict[str, list[LinkInfo]]:
        wanted = list(dict.fromkeys(customer_ids))
        result: dict[str, list[LinkInfo]] = {cid: [] for cid in wanted}
        async with self._sessions() as session:
            for chunk in _chunks(wanted, _IN_CHUNK):
                rows = await session.scalars(
                    select(Link).where(Link.customer_id.in_(chunk)).order_by(Link.system, Link.record_id)
                )
                for link in rows:
                    result[link.customer_id].append(_link_info(link))
        return result

    async def get(self, customer_id: str) -> CustomerInfo | None:
        """The customer with its links, following `merged_into`; None for an id never issued."""
        if self._ttl <= 0:
            return await self._get(customer_id)
        now = time.monotonic()
        hit = self._got.get(customer_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        found = await self._get(customer_id)
        self._evict_expired(now)
        self._got[customer_id] = (now + self._ttl, found)
        return found

    async def _get(self, customer_id: str) -> CustomerInfo | None:
        async with self._sessions() as session:
            customer, followed = await self._follow_merges(session, customer_id)
            if customer is None:
                return None
            links = await session.scalars(
                select(Link).where(Link.customer_id == customer.id).order_by(Link.system, Link.record_id)
            )
            return CustomerInfo(
                id=customer.id,
                created_at=customer.created_at,
                links=tuple(_link_info(link) for link in links),
                retired_at=customer.retired_at if customer.merged_into is None else None,
                merged_from=tuple(followed),
            )

    async def customer_for(self, system: SystemName, record_id: str) -> str | None:
        """The golden id the record is linked to, or None when it is not linked."""
        async with self._sessions() as session:
            found: str | None = await session.scalar(
                select(Link.customer_id).where(Link.system == str(system), Link.record_id == record_id)
            )
            return found

    async def customers_for(self, keys: Sequence[tuple[SystemName, str]]) -> dict[tuple[SystemName, str], str]:
        """Golden ids of many records at once; unlinked records are absent from the result."""
        wanted = list(dict.fromkeys((SystemName(system), record_id) for system, record_id in keys))
        found: dict[tuple[SystemName, str], str] = {}
        async with self._sessions() as session:
            for chunk in _chunks(wanted, _IN_CHUNK):
                rows = await session.execute(
                    select(Link.system, Link.record_id, Link.customer_id).where(
                        tuple_(Link.system, Link.record_id).in_([(str(s), r) for s, r in chunk])
                    )
                )
                for system, record_id, customer_id in rows:
                    found[(SystemName(system), record_id)] = customer_id
        return found

    async def list_customers(
        self, first: int, after: str | None = None, systems: Sequence[SystemName] | None = None
    ) -> CustomerPage:
        """Active customers in golden-id order (keyset pagination; stable while data changes).

        `systems` keeps customers linked to *every* listed system (e.g. [teamwork,
        quickbooks]: customers known to both). `first` is 0..MAX_PAGE_SIZE; `after` is a
        cursor from a previous page (InvalidCursor otherwise).
        """
        if not 0 <= first <= MAX_PAGE_SIZE:
            raise ValueError(f"first must be between 0 and {MAX_PAGE_SIZE}, not {first}")
        conditions: list[ColumnElement[bool]] = [GoldenCustomer.retired_at.is_(None)]
        for system in dict.fromkeys(systems or ()):
            conditions.append(
                exists().where(Link.customer_id == GoldenCustomer.id, Link.system == str(SystemName(system)))
            )
        page_conditions = list(conditions)
        if after is not None:
            page_conditions.append(GoldenCustomer.id > _decode_cursor(after))
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(GoldenCustomer).where(and_(*conditions)))
            rows = list(
                await session.scalars(
                    select(GoldenCustomer).where(and_(*page_conditions)).order_by(GoldenCustomer.id).limit(first + 1)
                )
            )
        has_next = len(rows) > first
        rows = rows[:first]
        links = await self.links_for([row.id for row in rows]) if rows else {}
        customers = tuple(
            CustomerInfo(id=row.id, created_at=row.created_at, links=tuple(links[row.id])) for row in rows
        )
        return CustomerPage(
            customers=customers,
            end_cursor=_encode_cursor(rows[-1].id) if rows else None,
            has_next_page=has_next,
            total=int(total or 0),
        )

    async def counts(self) -> dict[str, Any]:
        """{"customers": active, "retired": retired or merged, "links": {system: n}} for dashboards and the CLI."""
        async with self._sessions() as session:
            active = await session.scalar(
                select(func.count()).select_from(GoldenCustomer).where(GoldenCustomer.retired_at.is_(None))
            )
            retired = await session.scalar(
                select(func.count()).select_from(GoldenCustomer).where(GoldenCustomer.retired_at.is_not(None))
            )
            per_system = await session.execute(select(Link.system, func.count()).group_by(Link.system))
            links = {SystemName(system): int(n) for system, n in per_system}
        return {"customers": int(active or 0), "retired": int(retired or 0), "links": links}

    async def iter_links(self, batch_size: int = 1000) -> AsyncIterator[LinkInfo]:
        """Every link, ordered by golden id, system, record id; streamed, not loaded at once."""
        async with self._sessions() as session, session.begin():
            result = await session.stream_scalars(
                select(Link)
                .order_by(Link.customer_id, Link.system, Link.record_id)
                .execution_options(yield_per=batch_size)
            )
            async for link in result:
                yield _link_info(link)

    # -- writes ---------------------------------------------------------------------------

    async def start_run(self) -> int:
        """Record the start of a bulk match; returns the run id for `finish_run`."""
        async with self._sessions.begin() as session:
            run = MatchRun(started_at=utcnow(), stats={})
            session.add(run)
            await session.flush()
            return run.id

    async def finish_run(self, run_id: int, stats: Mapping[str, Any]) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(MatchRun).where(MatchRun.id == run_id).values(finished_at=utcnow(), stats=dict(stats))
            )

    @_invalidates
    async def link_record(
        self,
        system: SystemName,
        record_id: str,
        customer_id: str | None,
        *,
        confidence: float,
        evidence: Mapping[str, Any],
        decided_by: str,
    ) -> LinkOutcome:
        """Link one record to `customer_id`, or to a golden customer of its own when None (incremental match).

        Inserts the link, updates it in place, or moves it, in one transaction. An id that
        loses its last link is retired `merged_into` the target, as `apply_clusters` does,
        so a bookmarked id keeps resolving. With None, a record already alone in its
        customer stays there: a fresh id would only churn golden ids. The target must be an
        active customer (a merged id is followed; a retired one would be resurrected).
        """
        key = (str(SystemName(system)), str(record_id))
        now = utcnow()
        async with self._sessions.begin() as session:
            link = await session.scalar(
                select(Link).where(Link.system == key[0], Link.record_id == key[1]).with_for_update()
            )
            created = False
            if customer_id is None:
                if link is not None:
                    others = await session.scalar(
                        select(func.count()).select_from(Link).where(Link.customer_id == link.customer_id, Link.id != link.id)
                    )
                    if not others:
                        customer_id = link.customer_id
                if customer_id is None:
                    customer_id = new_golden_id()
                    session.add(GoldenCustomer(id=customer_id, created_at=now))
                    await session.flush()
                    created = True
            else:
                customer_id = await self._active_id(session, customer_id)
            previous = self._place_link(session, link, key, customer_id, confidence, evidence, decided_by, now)
            await session.flush()
            retired = 0
            if previous is not None and previous != customer_id:
                retired = await self._retire(session, {previous: customer_id}, now, _IN_CHUNK)
        return LinkOutcome(
            customer_id=customer_id,
            previous_customer_id=previous,
            customer_created=created,
            retired_customer_id=previous if retired else None,
        )

    @_invalidates
    async def remove_links(self, customer_id: str, keys: Sequence[tuple[SystemName, str]]) -> RemovedLinks:
        """Delete the links of `customer_id` to `keys`, records gone from their systems; one transaction.

        For a repair, not a steward's split (`StewardActions.unlink_record` gives a record that
        still exists a customer of its own). A key linked to another customer now (moved
        since it was found) is skipped. A customer left without links is retired with nothing
        to merge into, as `apply_clusters` retires one whose records are all gone.
        """
        wanted = list(dict.fromkeys((SystemName(system), str(record_id)) for system, record_id in keys))
        now = utcnow()
        removed: list[LinkInfo] = []
        skipped: list[tuple[SystemName, str]] = []
        async with self._sessions.begin() as session:
            for system, record_id in wanted:
                link = await session.scalar(
                    select(Link).where(Link.system == str(system), Link.record_id == record_id).with_for_update()
                )
                if link is None or link.customer_id != customer_id:
                    skipped.append((system, record_id))
                    continue
                removed.append(_link_info(link))
                await session.delete(link)
            await session.flush()
            retired = await self._retire(session, {customer_id: None}, now, _IN_CHUNK) if removed else 0
        return RemovedLinks(customer_id=customer_id, removed=tuple(removed), skipped=tuple(skipped),
                            retired=bool(retired))

    @staticmethod
    def _place_link(
        session: AsyncSession,
        link: Link | None,
        key: tuple[str, str],
        customer_id: str,
        confidence: float,
        evidence: Mapping[str, Any],
        decided_by: str,
        now: datetime,
    ) -> str | None:
        """Insert the record's link or point it at `customer_id`; returns the customer it was in before."""
        if link is None:
            session.add(
                Link(customer_id=customer_id, system=key[0], record_id=key[1], confidence=confidence,
                     evidence=dict(evidence), decided_by=decided_by, created_at=now, updated_at=now)
            )
            return None
        previous = link.customer_id
        if (link.customer_id, link.confidence, link.evidence, link.decided_by) != (
            customer_id, confidence, dict(evidence), decided_by
        ):
            link.customer_id, link.confidence, link.evidence = customer_id, confidence, dict(evidence)
            link.decided_by, link.updated_at = decided_by, now
        return previous

    @staticmethod
    async def _follow_merges(session: AsyncSession, customer_id: str) -> tuple[GoldenCustomer | None, list[str]]:
        """The customer `customer_id` ends up as through `merged_into` (None for an id never issued), and the ids passed."""
        followed: list[str] = []
        customer = await session.get(GoldenCustomer, customer_id)
        while customer is not None and customer.merged_into is not None:
            followed.append(customer.id)
            if len(followed) > _MAX_MERGE_HOPS or customer.merged_into in followed:
                raise XrefError(f"merge chain from {customer_id} does not end")
            customer = await session.get(GoldenCustomer, customer.merged_into)
        return customer, followed

    @staticmethod
    async def _active_id(session: AsyncSession, customer_id: str) -> str:
        """`customer_id`, or where its merges lead; XrefError for an unknown or retired (gone) customer."""
        customer, _ = await XrefService._follow_merges(session, customer_id)
        if customer is None:
            raise XrefError(f"no customer {customer_id} to link a record to")
        if customer.retired_at is not None:
            raise XrefError(f"customer {customer_id} is retired; a record cannot be linked to it")
        return customer.id

    @_invalidates
    async def apply_clusters(
        self,
        clusters: Sequence[Cluster],
        *,
        systems: Collection[SystemName] | None = None,
        decided_by: str = DECIDED_BY,
        batch_size: int = 1000,
        dry_run: bool = False,
    ) -> ApplyResult:
        """Make the links of `systems` say exactly what `clusters` say, keeping golden ids stable.

        With `dry_run` every statement runs and the transaction is rolled back: the result
        says exactly what would change (the `--dry-run` of a changed rule or threshold).

        `clusters` are the whole truth for `systems` (all systems when None): a linked
        record of those systems that is in no cluster is unlinked (gone from its source).
        Links of other systems are left alone, and an id still holding one is not retired.
        Nothing is written when nothing changed. One transaction, statements in batches.
        """
        scope = None if systems is None else sorted({str(SystemName(s)) for s in systems})
        seen: set[RecordKey] = set()
        for item in clusters:
            for member in item.members:
                if scope is not None and member[0] not in scope:
                    raise XrefError(f"cluster member {member} is outside the systems {scope}")
                if member in seen:
                    raise XrefError(f"record {member} is in two clusters")
                seen.add(member)
        del seen

        now = utcnow()
        changes: list[LinkChange] = []
        link_table: Table = Link.__table__  # type: ignore[assignment]
        try:
            async with self._sessions.begin() as session:
                current = await self._load_links(session, scope, batch_size)
                created_at = await self._load_created_at(session, {row[1] for row in current.values()})
                assignment = assign_golden_ids(
                    [item.members for item in clusters],
                    {key: row[1] for key, row in current.items()},
                    created_at,
                    new_golden_id,
                )
                for chunk in _chunks(assignment.new_ids, batch_size):
                    await session.execute(
                        insert(GoldenCustomer), [{"id": cid, "created_at": now} for cid in chunk]
                    )

                # Rows are built and written a batch at a time: 300k links as dicts would not be small.
                added = moved = updated = unchanged = 0
                inserts: list[dict[str, Any]] = []
                updates: list[dict[str, Any]] = []
                update_stmt = (
                    update(link_table)
                    .where(link_table.c.id == bindparam("link_id"))
                    .values(
                        customer_id=bindparam("customer_id"),
                        confidence=bindparam("confidence"),
                        evidence=bindparam("evidence"),
                        decided_by=bindparam("decided_by"),
                        updated_at=bindparam("updated_at"),
                    )
                )
                for item, golden in zip(clusters, assignment.cluster_ids, strict=True):
                    for member in item.members:
                        evidence = item.evidence.get(member, _NO_EVIDENCE)
                        confidence = float(item.confidence.get(member, 1.0))
                        member_decided_by = item.decided_by.get(member, decided_by)
                        row = current.pop(member, None)
                        if row is None:
                            if dry_run:
                                changes.append(LinkChange("add", SystemName(member[0]), member[1], None, golden))
                            inserts.append(
                                {"customer_id": golden, "system": str(member[0]), "record_id": member[1],
                                 "confidence": confidence, "evidence": evidence, "decided_by": member_decided_by,
                                 "created_at": now, "updated_at": now}
                            )
                            added += 1
                            if len(inserts) >= batch_size:
                                await session.execute(insert(link_table), inserts)
                                inserts = []
                            continue
                        link_id, old_golden, old_confidence, old_evidence, old_decided_by = row
                        if (old_golden, old_confidence, old_decided_by) == (golden, confidence, member_decided_by) and (
                            old_evidence == _evidence_fingerprint(evidence)
                        ):
                            unchanged += 1
                            continue
                        if old_golden != golden:
                            if dry_run:
                                changes.append(LinkChange("move", SystemName(member[0]), member[1], old_golden, golden))
                            moved += 1
                        else:
                            updated += 1
                        updates.append(
                            {"link_id": link_id, "customer_id": golden, "confidence": confidence,
                             "evidence": evidence, "decided_by": member_decided_by, "updated_at": now}
                        )
                        if len(updates) >= batch_size:
                            await session.execute(update_stmt, updates)
                            updates = []
                if inserts:
                    await session.execute(insert(link_table), inserts)
                if updates:
                    await session.execute(update_stmt, updates)
                # What is left in `current` was in no cluster: the record is gone from its system.
                removed = [row[0] for row in current.values()]
                if dry_run:
                    changes.extend(
                        LinkChange("remove", SystemName(key[0]), key[1], row[1], None) for key, row in current.items()
                    )
                for id_chunk in _chunks(removed, batch_size):
                    await session.execute(delete(link_table).where(link_table.c.id.in_(id_chunk)))
                retired = await self._retire(session, assignment.retired, now, batch_size)
                result = ApplyResult(
                    links_added=added,
                    links_removed=len(removed),
                    links_moved=moved,
                    links_updated=updated,
                    links_unchanged=unchanged,
                    customers_created=len(assignment.new_ids),
                    customers_retired=retired,
                    changes=tuple(changes),
                )
                if dry_run:
                    raise _RollBack(result)
        except _RollBack as rolled_back:
            return rolled_back.result
        return result

    @_invalidates
    async def move_links(
        self,
        keys: Sequence[RecordKey],
        customer_id: str | None,
        *,
        decided_by: str,
        evidence: Mapping[str, Any],
        confidence: float = 1.0,
    ) -> str:
        """Put the records `keys` in `customer_id` (a new golden id when None) now; returns that id.

        For steward actions, which must show at once rather than at the next bulk run.
        Unlinked records get a link; linked ones move. An id left without links is retired
        `merged_into` the target, as `apply_clusters` does, so it keeps resolving. Like
        `link_record` but for many records in one transaction (a merge moves all or nothing);
        the target is followed through merges and must not be retired.
        """
        wanted = list(dict.fromkeys((SystemName(system), str(record_id)) for system, record_id in keys))
        if not wanted:
            raise XrefError("move_links needs at least one record")
        now = utcnow()
        async with self._sessions.begin() as session:
            if customer_id is None:
                customer_id = new_golden_id()
                session.add(GoldenCustomer(id=customer_id, created_at=now))
                await session.flush()
            else:
                customer_id = await self._active_id(session, customer_id)
            losing: dict[str, str | None] = {}
            for system, record_id in wanted:
                link = await session.scalar(
                    select(Link).where(Link.system == str(system), Link.record_id == record_id).with_for_update()
                )
                key = (str(system), record_id)
                previous = self._place_link(session, link, key, customer_id, confidence, evidence, decided_by, now)
                if previous is not None and previous != customer_id:
                    losing[previous] = customer_id
            await session.flush()
            await self._retire(session, losing, now, _IN_CHUNK)
        return customer_id

    @staticmethod
    async def _load_links(
        session: AsyncSession, scope: Sequence[str] | None, batch_size: int
    ) -> dict[RecordKey, tuple[int, str, float, int, str]]:
        """Current links in scope: key -> (link id, golden id, confidence, evidence fingerprint, decided_by)."""
        stmt = select(
            Link.id,
            Link.system,
            Link.record_id,
            Link.customer_id,
            Link.confidence,
            # The stored JSON text, unparsed: parsing 300k documents to compare them is the slow part.
            type_coerce(Link.evidence, Text),
            Link.decided_by,
        )
        if scope is not None:
            stmt = stmt.where(Link.system.in_(scope))
        current: dict[RecordKey, tuple[int, str, float, int, str]] = {}
        systems = {str(s): s for s in SystemName}
        result = await session.stream(stmt.execution_options(yield_per=batch_size))
        async for partition in result.partitions():
            for link_id, system, record_id, customer_id, confidence, evidence, decided_by in partition:
                current[(systems.get(system) or SystemName(system), record_id)] = (
                    link_id, customer_id, confidence, _evidence_fingerprint(evidence), decided_by
                )
        return current

    @staticmethod
    async def _load_created_at(session: AsyncSession, ids: Collection[str]) -> dict[str, datetime]:
        created: dict[str, datetime] = {}
        for chunk in _chunks(sorted(ids), _IN_CHUNK):
            rows = await session.execute(
                select(GoldenCustomer.id, GoldenCustomer.created_at).where(GoldenCustomer.id.in_(chunk))
            )
            created.update({cid: at for cid, at in rows})
        return created

    @staticmethod
    async def _retire(
        session: AsyncSession, candidates: Mapping[str, str | None], now: datetime, batch_size: int
    ) -> int:
        """Mark ids left without links retired (merged into where their records went); returns how many."""
        if not candidates:
            return 0
        still_linked: set[str] = set()
        ids = sorted(candidates)
        for chunk in _chunks(ids, _IN_CHUNK):
            still_linked.update(
                await session.scalars(select(Link.customer_id).where(Link.customer_id.in_(chunk)).distinct())
            )
        by_target: dict[str | None, list[str]] = defaultdict(list)
        for cid in ids:
            if cid not in still_linked:
                by_target[candidates[cid]].append(cid)
        count = 0
        for target, group in by_target.items():
            for chunk in _chunks(group, batch_size):
                await session.execute(
                    update(GoldenCustomer)
                    .where(GoldenCustomer.id.in_(chunk))
                    .values(retired_at=now, merged_into=target)
                    .execution_options(synchronize_session=False)
                )
                count += len(chunk)
        return count
