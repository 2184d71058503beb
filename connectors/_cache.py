"""The one read cache in front of each connector (style.md 4): `CachedConnector`.

Why one wrapper per connector: a write, a webhook or a CDC poll must have exactly
one place to call to drop what it made stale (`invalidate`, `invalidate_relation`),
and every read must agree on the key (`system:record_id`,
`system:relation:customer_id`) so that place really covers every cached copy.

What it adds to the wrapped connector:

- per-key caching of `fetch`/`fetch_many` and of the relation methods
  (`invoices_for`, `projects_for`, `documents_for`), one multi-get per call and
  one upstream call for all the misses, absent records remembered briefly;
- single-flight: a key already being fetched by another caller in this process is
  awaited, not fetched again ("one call for one need", architecture.md);
- stale-if-error: entries outlive their fresh TTL by `stale_ttl_s`; when the system
  then fails with a transient error the old value is served and recorded in the
  `stale_reads` contextvar so the response can say so;
- memory (per process) or Redis (shared) storage through aiocache; the Redis form
  is explicit JSON (connectors/_cache_codec.py), never pickle.

No customer data is logged: log lines name keys (system and ids) and error types only.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from aiocache import SimpleMemoryCache
from aiocache.base import BaseCache
from aiocache.serializers import BaseSerializer, NullSerializer

from connectors._cache_codec import CachedValue, CacheEntry, CodecError, decode_entry, encode_entry
from connectors._errors import ConnectorError, RecordNotFound
from connectors._protocol import Connector
from connectors._record import RecordChanges, SourceRecord, SystemName
from connectors._settings import CacheSettings

__all__ = [
    "RELATIONS",
    "CacheStats",
    "CachedConnector",
    "ReadLog",
    "StaleRead",
    "open_cache",
    "read_log",
    "stale_reads",
]

logger = logging.getLogger(__name__)

#: Relation name (the middle part of its cache key) → the connector method that loads it.
RELATIONS: dict[str, str] = {
    "invoices": "invoices_for",
    "projects": "projects_for",
    "documents": "documents_for",
}
_RELATION_OF_METHOD: dict[str, str] = {method: relation for relation, method in RELATIONS.items()}


@dataclass(frozen=True, slots=True)
class StaleRead:
    """One value served past its fresh TTL because its system failed."""

    system: str
    key: str
    age_s: float


#: Set to a fresh list by the gateway per request; every stale value served in that request
#: is appended, so the response `extensions` can flag it. None (the default): not recorded.
stale_reads: ContextVar[list[StaleRead] | None] = ContextVar("c360_stale_reads", default=None)


@dataclass(slots=True)
class ReadLog:
    """What one request read through the record cache: lets a response cache tag and time its answer."""

    #: Cache keys read (`quickbooks:58`, `quickbooks:invoices:58`).
    keys: set[str] = field(default_factory=set)
    #: Wall-clock time at which the first of those values stops being fresh.
    fresh_until: float = math.inf
    #: Something was read around the cache (live search, a full scan): the answer is not reusable.
    bypassed: bool = False

    def saw(self, key: str, entry: CacheEntry) -> None:
        self.keys.add(key)
        if entry.fresh_until < self.fresh_until:
            self.fresh_until = entry.fresh_until


#: Set to a fresh ReadLog by the gateway per request (None: not recorded).
read_log: ContextVar[ReadLog | None] = ContextVar("c360_read_log", default=None)


def _bypassed() -> None:
    log = read_log.get()
    if log is not None:
        log.bypassed = True


@dataclass(slots=True)
class CacheStats:
    """Counters per wrapper, for tests and the read benchmark (upstream calls per query)."""

    hits: int = 0
    misses: int = 0
    #: Keys answered by joining an upstream call another caller already had in flight.
    shared: int = 0
    upstream_calls: int = 0
    stale_served: int = 0
    backend_errors: int = 0


# -- backends -----------------------------------------------------------------------------------


class EntrySerializer(BaseSerializer):
    """aiocache serializer for shared backends: entries as explicit JSON bytes (no pickle)."""

    DEFAULT_ENCODING = None  # hand raw bytes to orjson

    def dumps(self, value: CacheEntry) -> bytes:  # type: ignore[override]
        return encode_entry(value)

    def loads(self, value: bytes | str | None) -> CacheEntry | None:  # type: ignore[override]
        if value is None:
            return None
        try:
            return decode_entry(value)
        except CodecError as exc:
            logger.warning("dropping unreadable cache entry: %s", exc)
            return None


def open_cache(settings: CacheSettings) -> BaseCache:
    """The backend chosen by settings; one per process, shared by every CachedConnector.

    The caller owns it and closes it (`await cache.close()`) at shutdown.
    Memory keeps entry objects as they are (no serialization cost on the hot cached
    path); Redis goes through `EntrySerializer`.
    """
    if settings.backend == "memory":
        return SimpleMemoryCache(serializer=NullSerializer(), timeout=None)
    from aiocache import RedisCache  # needs the `redis` package; imported only when configured

    url = urlsplit(settings.redis_url)
    if url.scheme not in ("redis", "rediss"):
        raise ValueError(f"cache redis_url must start with redis:// or rediss://, not {url.scheme}://")
    db = url.path.strip("/") or "0"
    return RedisCache(
        serializer=EntrySerializer(),
        endpoint=url.hostname or "127.0.0.1",
        port=url.port or 6379,
        db=int(db),
        password=unquote(url.password) if url.password else None,
        ssl=url.scheme == "rediss",
        timeout=settings.redis_timeout_s,
    )


# -- the wrapper --------------------------------------------------------------------------------


def _is_servable_error(exc: BaseException) -> bool:
    return isinstance(exc, ConnectorError) and exc.transient


class CachedConnector:
    """A Connector whose reads go through the cache; writes pass through and invalidate.

        cache = open_cache(settings.cache)
        quickbooks = CachedConnector(QuickBooksConnector(...), cache, settings.cache)
        await quickbooks.invoices_for(["58", "59"])     # keys quickbooks:invoices:58, …:59
        await quickbooks.invalidate("58")               # after a webhook for customer 58

    `clock` returns wall-clock seconds (entries in Redis are shared across processes, so
    a monotonic clock would not do); tests inject their own.
    """

    def __init__(
        self,
        inner: Connector,
        cache: BaseCache,
        settings: CacheSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.inner = inner
        self.system: SystemName = inner.system
        self.cache = cache
        self.settings = settings
        self.stats = CacheStats()
        self._clock = clock
        self._ttl = settings.ttl_for(str(inner.system))
        self._inflight: dict[str, asyncio.Future[CacheEntry]] = {}
        #: Called with the keys after they are forgotten (a response cache drops what used them).
        self.forget_listeners: list[Callable[[Sequence[str]], None]] = []
        self._writes_in_flight: Counter[str] = Counter()
        self._contended: set[str] = set()  # keys written by overlapping updates
        # Strong references to running flights (asyncio keeps only weak ones).
        self._flights: set[asyncio.Task[None]] = set()

    def __getattr__(self, name: str) -> Any:
        """Relation loaders the wrapped system has are cached (`invoices_for`...); the rest goes to it.

        Only relations the system itself offers appear here, so callers that ask
        `hasattr(connector, "projects_for")` learn the truth about the system behind.
        """
        if name == "inner":  # not yet set: do not recurse
            raise AttributeError(name)
        relation = _RELATION_OF_METHOD.get(name)
        if relation is not None:
            getattr(self.inner, name)  # AttributeError when the system has no such relation

            async def load(customer_ids: Sequence[str]) -> dict[str, list[Any]]:
                return await self.related(relation, customer_ids)

            return load
        return getattr(self.inner, name)

    # -- keys ---------------------------------------------------------------------------------

    def record_key(self, record_id: str) -> str:
        return f"{self.system}:{record_id}"

    def relation_key(self, relation: str, customer_id: str) -> str:
        return f"{self.system}:{relation}:{customer_id}"

    def _stored(self, key: str) -> str:
        return f"{self.settings.namespace}:{key}"

    # -- reads --------------------------------------------------------------------------------

    async def fetch(self, record_id: str) -> SourceRecord:
        """Through the same path as fetch_many, so it shares flights and negative entries."""
        key = self.record_key(record_id)
        values = await self._load({key: record_id}, self._fetch_upstream)
        record = values[key]
        if record is None:
            raise RecordNotFound(self.system, f"no record {record_id!r}", status=404)
        return cast(SourceRecord, record)

    async def fetch_many(self, record_ids: Sequence[str]) -> list[SourceRecord | None]:
        keys = {self.record_key(rid): rid for rid in record_ids}
        values = await self._load(keys, self._fetch_upstream)
        return [cast("SourceRecord | None", values[self.record_key(rid)]) for rid in record_ids]

    async def _fetch_upstream(self, record_ids: list[str]) -> dict[str, CachedValue]:
        records = await self.inner.fetch_many(record_ids)
        return dict(zip(record_ids, records, strict=True))

    async def related(self, relation: str, customer_ids: Sequence[str]) -> dict[str, list[Any]]:
        """A relation's items per customer id (every id given is a key), cached per customer."""
        method_name = RELATIONS.get(relation)
        method = getattr(self.inner, method_name, None) if method_name else None
        if method is None:
            raise AttributeError(f"the {self.system} connector has no {relation!r} relation")

        async def upstream(ids: list[str]) -> dict[str, CachedValue]:
            found: Mapping[str, Iterable[Any]] = await method(ids)
            return {cid: tuple(found.get(cid, ())) for cid in ids}

        keys = {self.relation_key(relation, cid): cid for cid in customer_ids}
        values = await self._load(keys, upstream)
        return {cid: list(cast("tuple[Any, ...]", values[self.relation_key(relation, cid)])) for cid in customer_ids}

    def iterate(self) -> AsyncIterator[SourceRecord]:
        """Uncached: bulk matching wants the system as it is, and would only flood the cache."""
        _bypassed()
        return self.inner.iterate()

    async def search(
        self, *, name: str | None = None, email: str | None = None, phone: str | None = None
    ) -> list[SourceRecord]:
        """Uncached: preemptive search must see a customer created a second ago."""
        _bypassed()
        return await self.inner.search(name=name, email=email, phone=phone)

    def record_url(self, record_id: str) -> str:
        return self.inner.record_url(record_id)

    # -- writes and invalidation ----------------------------------------------------------------

    async def create(self, changes: RecordChanges) -> SourceRecord:
        record = await self.inner.create(changes)
        await self._forget_quietly([self.record_key(record.id)])  # a remembered "absent" for this id
        return record

    async def update(self, record_id: str, version: str | None, changes: RecordChanges) -> SourceRecord:
        """The system's answer to a write is the record as it now is, so it replaces our copy:
        the read that usually follows a write (the mutation's own `customer` selection, the next
        edit's version token) needs no call. On any failure (a conflict, a timeout) our copy
        may be stale and is dropped; so is it when another write to the record is in flight,
        since their answers could land in either order.
        """
        key = self.record_key(record_id)
        if self._writes_in_flight[key]:
            self._contended.add(key)
        self._writes_in_flight[key] += 1
        try:
            record = await self.inner.update(record_id, version, changes)
        except BaseException:
            await self._forget_quietly([key])
            raise
        finally:
            self._writes_in_flight[key] -= 1
            alone = self._writes_in_flight[key] == 0 and key not in self._contended
            if self._writes_in_flight[key] == 0:
                del self._writes_in_flight[key]
                self._contended.discard(key)
        await self._forget_quietly([key])
        if alone and self._inflight.get(key) is None:
            now = self._clock()
            await self._write({key: CacheEntry(value=record, stored_at=now, fresh_until=now + self._ttl)})
        return record

    async def invalidate(self, record_id: str) -> None:
        """Drop the cached record (after a write or a webhook); the next read goes upstream."""
        await self._forget([self.record_key(record_id)])

    async def invalidate_relation(self, relation: str, customer_id: str) -> None:
        """Drop a customer's cached relation, e.g. `invalidate_relation("invoices", "58")`."""
        await self._forget([self.relation_key(relation, customer_id)])

    async def _forget(self, keys: Sequence[str]) -> None:
        for key in keys:
            # A flight started before the write must not write its (older) answer back.
            self._inflight.pop(key, None)
        for key in keys:
            await self.cache.delete(self._stored(key))
        for listener in self.forget_listeners:
            listener(keys)

    async def _forget_quietly(self, keys: Sequence[str]) -> None:
        """For writes: the write happened; a cache outage must not make it look failed (TTL bounds it)."""
        try:
            await self._forget(keys)
        except Exception as exc:  # noqa: BLE001 - any backend failure
            self.stats.backend_errors += 1
            logger.warning("cache invalidation of %s failed (%s)", ", ".join(keys), type(exc).__name__)

    async def aclose(self) -> None:
        """Closes the connector; the cache is shared and closed by whoever opened it."""
        for task in list(self._flights):
            task.cancel()
        await self.inner.aclose()

    # -- the engine -------------------------------------------------------------------------------

    async def _load(
        self,
        keys: Mapping[str, str],
        upstream: Callable[[list[str]], Awaitable[Mapping[str, CachedValue]]],
    ) -> dict[str, CachedValue]:
        """Values for `keys` (cache key → upstream id): cache, else a shared flight, else one new flight."""
        cached = await self._read(list(keys))
        now = self._clock()
        log = read_log.get()
        values: dict[str, CachedValue] = {}
        pending: dict[str, asyncio.Future[CacheEntry]] = {}
        missing: dict[str, str] = {}
        for key, upstream_id in keys.items():
            entry = cached.get(key)
            if entry is not None and entry.is_fresh(now):
                values[key] = entry.value
                self.stats.hits += 1
                if log is not None:
                    log.saw(key, entry)
            elif (future := self._inflight.get(key)) is not None:
                pending[key] = future
                self.stats.shared += 1
            else:
                missing[key] = upstream_id
                self.stats.misses += 1
        if missing:
            pending.update(self._start_flight(missing, upstream))
        for key, future in pending.items():
            try:
                # shield: one caller giving up (its deadline) must not cancel the others' call.
                got = await asyncio.shield(future)
                values[key] = got.value
                if log is not None:
                    log.saw(key, got)
            except ConnectorError as exc:
                values[key] = self._stale_or_raise(key, cached.get(key), exc)
        return values

    def _start_flight(
        self,
        missing: Mapping[str, str],
        upstream: Callable[[list[str]], Awaitable[Mapping[str, CachedValue]]],
    ) -> dict[str, asyncio.Future[CacheEntry]]:
        loop = asyncio.get_running_loop()
        futures: dict[str, asyncio.Future[CacheEntry]] = {key: loop.create_future() for key in missing}
        self._inflight.update(futures)
        task = loop.create_task(self._fly(dict(missing), futures, upstream))
        self._flights.add(task)
        task.add_done_callback(self._flights.discard)
        return futures

    async def _fly(
        self,
        missing: dict[str, str],
        futures: dict[str, asyncio.Future[CacheEntry]],
        upstream: Callable[[list[str]], Awaitable[Mapping[str, CachedValue]]],
    ) -> None:
        """One upstream call for `missing`; resolves every waiter, then writes the answers back."""
        try:
            self.stats.upstream_calls += 1
            try:
                found = await upstream(list(missing.values()))
            except BaseException as exc:
                for future in futures.values():
                    if not future.done():
                        if isinstance(exc, asyncio.CancelledError):
                            future.cancel()
                        else:
                            future.set_exception(exc)
                            future.exception()  # retrieved here: a waiter that raised early skips the rest
                if isinstance(exc, Exception):
                    return  # delivered to the waiters; nothing else should see it
                raise
            now = self._clock()
            entries: dict[str, CacheEntry] = {}
            for key, upstream_id in missing.items():
                value = found[upstream_id]
                ttl = self.settings.negative_ttl_s if value is None else self._ttl
                entries[key] = CacheEntry(value=value, stored_at=now, fresh_until=now + ttl)
            # Written back before the waiters wake: once a read returns, its values are in the
            # cache (for the next request and for other processes). Keys invalidated while we
            # were asking upstream are not written: our answer may predate the write.
            keep = {k: e for k, e in entries.items() if self._inflight.get(k) is futures[k]}
            await self._write(keep)
            invalidated_meanwhile = [k for k in keep if self._inflight.get(k) is not futures[k]]
            if invalidated_meanwhile:
                await self._forget_quietly(invalidated_meanwhile)
            for key, entry in entries.items():
                if not futures[key].done():
                    futures[key].set_result(entry)
        finally:
            for key, future in futures.items():
                if not future.done():  # a bug above must not leave waiters hanging
                    future.set_exception(RuntimeError(f"cache flight for {key} ended without a value"))
                    future.exception()
                if self._inflight.get(key) is future:
                    del self._inflight[key]

    def _stale_or_raise(self, key: str, entry: CacheEntry | None, exc: ConnectorError) -> CachedValue:
        now = self._clock()
        if (
            entry is None
            or not _is_servable_error(exc)
            or now - entry.fresh_until > self.settings.stale_ttl_s
        ):
            raise exc
        age = entry.age(now)
        self.stats.stale_served += 1
        logger.warning("serving %s stale (age %.1fs): %s failed with %s", key, age, self.system, type(exc).__name__)
        reads = stale_reads.get()
        if reads is not None:
            reads.append(StaleRead(system=str(self.system), key=key, age_s=age))
        return entry.value

    # -- backend access -----------------------------------------------------------------------

    async def _read(self, keys: list[str]) -> dict[str, CacheEntry]:
        """One multi-get; a backend failure reads as all misses (the systems still answer)."""
        if not keys:
            return {}
        try:
            found = await self.cache.multi_get([self._stored(k) for k in keys])
        except Exception as exc:  # noqa: BLE001 - any backend failure
            self.stats.backend_errors += 1
            logger.warning("cache read of %d keys failed (%s); reading upstream", len(keys), type(exc).__name__)
            return {}
        return {k: e for k, e in zip(keys, found, strict=True) if isinstance(e, CacheEntry)}

    async def _write(self, entries: Mapping[str, CacheEntry]) -> None:
        """Multi-set grouped by lifetime (found vs absent); kept `stale_ttl_s` past fresh."""
        by_ttl: dict[int, list[tuple[str, CacheEntry]]] = {}
        for key, entry in entries.items():
            fresh_s = entry.fresh_until - entry.stored_at
            if fresh_s <= 0:
                continue  # negative caching disabled
            lifetime = math.ceil(fresh_s + self.settings.stale_ttl_s)
            by_ttl.setdefault(lifetime, []).append((self._stored(key), entry))
        for lifetime, pairs in by_ttl.items():
            try:
                await self.cache.multi_set(pairs, ttl=lifetime)
            except Exception as exc:  # noqa: BLE001 - an unwritable cache must not fail the read
                self.stats.backend_errors += 1
                logger.warning("cache write of %d keys failed (%s)", len(pairs), type(exc).__name__)
