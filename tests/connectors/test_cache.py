"""CachedConnector against both backends: the in-process memory cache and a real Redis server.

The upstream is a scripted fake that counts its calls, can hold them open on an event
(to make concurrency deterministic) and can fail on demand; time is an injected clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from decimal import Decimal

import pytest
from aiocache.base import BaseCache

from connectors import (
    AuthenticationFailed,
    CachedConnector,
    CacheSettings,
    Connector,
    Invoice,
    RecordChanges,
    RecordNotFound,
    SourceRecord,
    SourceUnavailable,
    StaleRead,
    SystemName,
    open_cache,
    stale_reads,
)
from tests.support.fakes import make_record

QB = SystemName.QUICKBOOKS
TTL = 60.0
NEGATIVE_TTL = 5.0
STALE_TTL = 600.0


class Clock:
    """Wall-clock seconds under the test's control."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScriptedUpstream:
    """A connector over dicts that records every upstream call; `gate` holds calls open, `fail` raises."""

    system = QB
    conditional_writes = True
    unique_attributes: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.records: dict[str, SourceRecord] = {
            rid: make_record(QB, rid, name=f"Customer {rid}", email=f"c{rid}@example.com") for rid in ("1", "2", "3")
        }
        self.invoices: dict[str, list[Invoice]] = {
            "58": [
                Invoice(QB, "1001", "58", number="1001", date=dt.date(2024, 5, 1), total=Decimal("120.50"),
                        balance=Decimal("20.25"), updated_at=dt.datetime(2024, 5, 2, 8, 30, tzinfo=dt.UTC)),
                Invoice(QB, "1000", "58", number="1000", date=dt.date(2024, 4, 1), total=Decimal("99")),
            ],
            "59": [Invoice(QB, "1002", "59", number="1002", total=Decimal("10"), balance=Decimal("10"))],
        }
        self.fetch_calls: list[list[str]] = []
        self.invoice_calls: list[list[str]] = []
        self.update_calls = 0
        self.gate: asyncio.Event | None = None
        self.fail: Exception | None = None
        self._next_id = 100

    async def _upstream(self) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail

    async def fetch(self, record_id: str) -> SourceRecord:
        raise AssertionError("the cache reads through fetch_many")

    async def fetch_many(self, record_ids: Sequence[str]) -> list[SourceRecord | None]:
        self.fetch_calls.append(list(record_ids))
        await self._upstream()
        return [self.records.get(rid) for rid in record_ids]

    async def invoices_for(self, customer_ids: Sequence[str]) -> dict[str, list[Invoice]]:
        self.invoice_calls.append(list(customer_ids))
        await self._upstream()
        return {cid: list(self.invoices.get(cid, [])) for cid in customer_ids}

    async def iterate(self) -> AsyncIterator[SourceRecord]:
        for record in list(self.records.values()):
            yield record

    async def search(
        self, *, name: str | None = None, email: str | None = None, phone: str | None = None
    ) -> list[SourceRecord]:
        return [r for r in self.records.values() if name and r.name and name in r.name]

    async def create(self, changes: RecordChanges) -> SourceRecord:
        record = SourceRecord(system=QB, id=str(self._next_id), version="0", name=changes.name)
        self._next_id += 1
        self.records[record.id] = record
        return record

    async def update(self, record_id: str, version: str | None, changes: RecordChanges) -> SourceRecord:
        self.update_calls += 1
        if self.gate is not None:
            await self.gate.wait()
        record = replace(self.records[record_id], name=changes.name, version=str(int(version or 0) + 1))
        self.records[record_id] = record
        return record

    def record_url(self, record_id: str) -> str:
        return f"https://qbo.example/customer/{record_id}"

    async def aclose(self) -> None:
        pass


async def until(condition: Callable[[], bool], what: str) -> None:
    """Yield to the event loop until `condition` holds (cache I/O included); no fixed sleeps."""
    deadline = time.monotonic() + 10.0
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0)


@pytest.fixture(params=["memory", "redis"])
def settings(request: pytest.FixtureRequest) -> CacheSettings:
    """Cache settings for each backend; a fresh namespace per test keeps Redis tests apart."""
    base = dict(ttl_s=TTL, negative_ttl_s=NEGATIVE_TTL, stale_ttl_s=STALE_TTL, namespace=f"t{uuid.uuid4().hex[:12]}")
    if request.param == "memory":
        return CacheSettings(backend="memory", **base)
    url: str = request.getfixturevalue("redis_url")
    return CacheSettings(backend="redis", redis_url=url, **base)


@pytest.fixture
async def cache(settings: CacheSettings) -> AsyncIterator[BaseCache]:
    backend = open_cache(settings)
    yield backend
    await backend.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def upstream() -> ScriptedUpstream:
    return ScriptedUpstream()


@pytest.fixture
def cached(upstream: ScriptedUpstream, cache: BaseCache, settings: CacheSettings, clock: Clock) -> CachedConnector:
    return CachedConnector(upstream, cache, settings, clock=clock)


# -- records ------------------------------------------------------------------------------------


async def test_miss_then_hit(cached: CachedConnector, upstream: ScriptedUpstream) -> None:
    first = await cached.fetch_many(["1", "2"])
    second = await cached.fetch_many(["2", "1"])
    assert upstream.fetch_calls == [["1", "2"]]
    assert first == [upstream.records["1"], upstream.records["2"]]
    assert second == [upstream.records["2"], upstream.records["1"]]
    assert second[1] is not None and second[1].raw == upstream.records["1"].raw  # raw survives the round trip
    assert await cached.fetch("1") == upstream.records["1"]
    assert upstream.fetch_calls == [["1", "2"]]
    assert (cached.stats.hits, cached.stats.misses, cached.stats.upstream_calls) == (3, 2, 1)


async def test_multi_get_fetches_only_the_misses_in_one_call(
    cached: CachedConnector, upstream: ScriptedUpstream
) -> None:
    await cached.fetch("2")
    records = await cached.fetch_many(["1", "2", "3", "1"])
    assert upstream.fetch_calls == [["2"], ["1", "3"]]
    assert [r.id if r else None for r in records] == ["1", "2", "3", "1"]


async def test_expired_entry_is_fetched_again(
    cached: CachedConnector, upstream: ScriptedUpstream, clock: Clock
) -> None:
    await cached.fetch("1")
    clock.advance(TTL - 1)
    await cached.fetch("1")
    assert len(upstream.fetch_calls) == 1
    clock.advance(2)
    upstream.records["1"] = replace(upstream.records["1"], name="Renamed")
    assert (await cached.fetch("1")).name == "Renamed"
    assert len(upstream.fetch_calls) == 2


async def test_ttl_per_system(upstream: ScriptedUpstream, cache: BaseCache, settings: CacheSettings,
                              clock: Clock) -> None:
    short = settings.model_copy(update={"system_ttl_s": {"quickbooks": 5.0, "teamwork": 500.0}})
    cached = CachedConnector(upstream, cache, short, clock=clock)
    await cached.fetch("1")
    clock.advance(6)
    await cached.fetch("1")
    assert len(upstream.fetch_calls) == 2


async def test_absent_records_are_cached_for_the_negative_ttl(
    cached: CachedConnector, upstream: ScriptedUpstream, clock: Clock
) -> None:
    assert await cached.fetch_many(["1", "404"]) == [upstream.records["1"], None]
    with pytest.raises(RecordNotFound):
        await cached.fetch("404")
    assert upstream.fetch_calls == [["1", "404"]]
    clock.advance(NEGATIVE_TTL + 1)
    assert await cached.fetch_many(["1", "404"]) == [upstream.records["1"], None]
    assert upstream.fetch_calls == [["1", "404"], ["404"]]  # the found record is still fresh


async def test_negative_caching_can_be_disabled(
    upstream: ScriptedUpstream, cache: BaseCache, settings: CacheSettings, clock: Clock
) -> None:
    cached = CachedConnector(upstream, cache, settings.model_copy(update={"negative_ttl_s": 0.0}), clock=clock)
    await cached.fetch_many(["404"])
    await cached.fetch_many(["404"])
    assert upstream.fetch_calls == [["404"], ["404"]]


# -- single flight ------------------------------------------------------------------------------


async def test_concurrent_misses_make_one_upstream_call(
    cached: CachedConnector, upstream: ScriptedUpstream
) -> None:
    callers = 20
    upstream.gate = asyncio.Event()
    tasks = [asyncio.create_task(cached.fetch_many(["1", "2"])) for _ in range(callers)]
    await until(lambda: cached.stats.shared == 2 * (callers - 1), "every caller to join the flight")
    upstream.gate.set()
    results = await asyncio.gather(*tasks)
    assert upstream.fetch_calls == [["1", "2"]]
    assert all(r == [upstream.records["1"], upstream.records["2"]] for r in results)


async def test_overlapping_calls_request_only_keys_not_in_flight(
    cached: CachedConnector, upstream: ScriptedUpstream
) -> None:
    upstream.gate = asyncio.Event()
    first = asyncio.create_task(cached.fetch_many(["1", "2"]))
    await until(lambda: len(upstream.fetch_calls) == 1, "the first flight")
    second = asyncio.create_task(cached.fetch_many(["2", "3"]))
    await until(lambda: len(upstream.fetch_calls) == 2, "the second flight")
    upstream.gate.set()
    assert [r.id for r in await first if r] == ["1", "2"]
    assert [r.id for r in await second if r] == ["2", "3"]
    assert upstream.fetch_calls == [["1", "2"], ["3"]]


async def test_a_shared_failure_reaches_every_caller(cached: CachedConnector, upstream: ScriptedUpstream) -> None:
    upstream.gate = asyncio.Event()
    upstream.fail = SourceUnavailable(QB, "down")
    tasks = [asyncio.create_task(cached.fetch_many(["1"])) for _ in range(5)]
    await until(lambda: cached.stats.shared == 4, "every caller to join the flight")
    upstream.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, SourceUnavailable) for r in results)
    assert len(upstream.fetch_calls) == 1
    upstream.fail = None
    assert await cached.fetch_many(["1"]) == [upstream.records["1"]]  # nothing poisoned


async def test_a_cancelled_caller_does_not_cancel_the_shared_call(
    cached: CachedConnector, upstream: ScriptedUpstream
) -> None:
    upstream.gate = asyncio.Event()
    leader = asyncio.create_task(cached.fetch_many(["1"]))
    await until(lambda: len(upstream.fetch_calls) == 1, "the flight")
    follower = asyncio.create_task(cached.fetch_many(["1"]))
    await until(lambda: cached.stats.shared == 1, "the follower to join")
    leader.cancel()
    upstream.gate.set()
    assert await follower == [upstream.records["1"]]
    with pytest.raises(asyncio.CancelledError):
        await leader


# -- writes and invalidation ---------------------------------------------------------------------


async def test_update_keeps_the_systems_answer_as_the_cached_record(
    cached: CachedConnector, upstream: ScriptedUpstream
) -> None:
    before = await cached.fetch("1")
    forgotten: list[Sequence[str]] = []
    cached.forget_listeners.append(forgotten.append)
    after = await cached.update("1", before.version, RecordChanges(name="New name"))
    assert after.name == "New name"
    assert await cached.fetch("1") == after
    assert upstream.fetch_calls == [["1"]]  # the read after the write needed no call
    assert forgotten == [[cached.record_key("1")]]  # responses built on the old copy go


async def test_concurrent_updates_of_one_record_leave_no_copy(
    cached: CachedConnector, upstream: ScriptedUpstream
) -> None:
    """Their answers can land in either order: neither is trusted as the latest."""
    upstream.gate = asyncio.Event()
    first = asyncio.create_task(cached.update("1", "1", RecordChanges(name="First")))
    second = asyncio.create_task(cached.update("1", "1", RecordChanges(name="Second")))
    await asyncio.sleep(0)
    upstream.gate.set()
    await asyncio.gather(first, second)
    assert (await cached.fetch("1")).name == "Second"
    assert upstream.fetch_calls == [["1"]]  # read from the system, not from either answer


async def test_failed_update_invalidates_too(cached: CachedConnector, upstream: ScriptedUpstream) -> None:
    await cached.fetch("1")
    with pytest.raises(KeyError):
        await cached.update("missing", "1", RecordChanges(name="x"))
    await cached.fetch("1")
    assert len(upstream.fetch_calls) == 1  # only the written key was dropped


async def test_create_drops_a_remembered_absence(cached: CachedConnector, upstream: ScriptedUpstream) -> None:
    assert await cached.fetch_many(["100"]) == [None]
    created = await cached.create(RecordChanges(name="Fresh Co"))
    assert created.id == "100"
    assert await cached.fetch("100") == created


async def test_explicit_invalidation(cached: CachedConnector, upstream: ScriptedUpstream) -> None:
    await cached.fetch_many(["1", "2"])
    await cached.invalidate("1")
    await cached.fetch_many(["1", "2"])
    assert upstream.fetch_calls == [["1", "2"], ["1"]]


async def test_invalidation_during_a_flight_keeps_its_answer_out_of_the_cache(
    cached: CachedConnector, upstream: ScriptedUpstream
) -> None:
    upstream.gate = asyncio.Event()
    reader = asyncio.create_task(cached.fetch("1"))
    await until(lambda: len(upstream.fetch_calls) == 1, "the flight")
    await cached.invalidate("1")  # a webhook says record 1 changed while we were reading it
    upstream.gate.set()
    await reader
    upstream.gate = None
    await cached.fetch("1")
    assert len(upstream.fetch_calls) == 2


# -- stale-if-error -----------------------------------------------------------------------------


async def test_stale_value_served_and_flagged_when_the_system_fails(
    cached: CachedConnector, upstream: ScriptedUpstream, clock: Clock
) -> None:
    warm = await cached.fetch_many(["1", "2"])
    clock.advance(TTL + 30)
    upstream.fail = SourceUnavailable(QB, "outage")
    reads: list[StaleRead] = []
    token = stale_reads.set(reads)
    try:
        assert await cached.fetch_many(["1", "2"]) == warm
    finally:
        stale_reads.reset(token)
    assert reads == [
        StaleRead("quickbooks", "quickbooks:1", TTL + 30),
        StaleRead("quickbooks", "quickbooks:2", TTL + 30),
    ]
    assert cached.stats.stale_served == 2
    assert len(upstream.fetch_calls) == 2  # the system was asked first


async def test_stale_serving_without_a_recorder(
    cached: CachedConnector, upstream: ScriptedUpstream, clock: Clock
) -> None:
    await cached.fetch("1")
    clock.advance(TTL + 1)
    upstream.fail = SourceUnavailable(QB, "outage")
    assert (await cached.fetch("1")).id == "1"  # no contextvar set: served, just not recorded


async def test_error_without_a_stale_value_propagates(
    cached: CachedConnector, upstream: ScriptedUpstream, clock: Clock
) -> None:
    await cached.fetch("1")
    clock.advance(TTL + 1)
    upstream.fail = SourceUnavailable(QB, "outage")
    with pytest.raises(SourceUnavailable):
        await cached.fetch_many(["1", "2"])  # 1 is stale, 2 was never cached


async def test_too_old_values_are_not_served(
    cached: CachedConnector, upstream: ScriptedUpstream, clock: Clock
) -> None:
    await cached.fetch("1")
    clock.advance(TTL + STALE_TTL + 1)
    upstream.fail = SourceUnavailable(QB, "outage")
    with pytest.raises(SourceUnavailable):
        await cached.fetch("1")


async def test_permanent_errors_are_not_masked_by_stale_values(
    cached: CachedConnector, upstream: ScriptedUpstream, clock: Clock
) -> None:
    await cached.fetch("1")
    clock.advance(TTL + 1)
    upstream.fail = AuthenticationFailed(QB, "refused")
    with pytest.raises(AuthenticationFailed):
        await cached.fetch("1")


# -- relations ----------------------------------------------------------------------------------


async def test_relations_are_cached_per_customer(
    cached: CachedConnector, upstream: ScriptedUpstream, cache: BaseCache, settings: CacheSettings
) -> None:
    first = await cached.invoices_for(["58", "59", "60"])
    assert first == {"58": upstream.invoices["58"], "59": upstream.invoices["59"], "60": []}
    again = await cached.invoices_for(["60", "58"])
    assert again == {"60": [], "58": upstream.invoices["58"]}
    partial = await cached.invoices_for(["59", "61"])
    assert partial == {"59": upstream.invoices["59"], "61": []}
    assert upstream.invoice_calls == [["58", "59", "60"], ["61"]]
    stored = await cache.multi_get([f"{settings.namespace}:quickbooks:invoices:58"])
    assert stored[0] is not None


async def test_relation_invalidation_and_stale_relation(
    cached: CachedConnector, upstream: ScriptedUpstream, clock: Clock
) -> None:
    await cached.invoices_for(["58", "59"])
    await cached.invalidate_relation("invoices", "58")
    await cached.invoices_for(["58", "59"])
    assert upstream.invoice_calls == [["58", "59"], ["58"]]
    clock.advance(TTL + 1)
    upstream.fail = SourceUnavailable(QB, "outage")
    reads: list[StaleRead] = []
    token = stale_reads.set(reads)
    try:
        assert (await cached.invoices_for(["58"]))["58"] == upstream.invoices["58"]
    finally:
        stale_reads.reset(token)
    assert [r.key for r in reads] == ["quickbooks:invoices:58"]


async def test_concurrent_relation_misses_make_one_call(
    cached: CachedConnector, upstream: ScriptedUpstream
) -> None:
    upstream.gate = asyncio.Event()
    tasks = [asyncio.create_task(cached.invoices_for(["58"])) for _ in range(10)]
    await until(lambda: cached.stats.shared == 9, "every caller to join the flight")
    upstream.gate.set()
    await asyncio.gather(*tasks)
    assert upstream.invoice_calls == [["58"]]


async def test_a_relation_the_connector_lacks(cached: CachedConnector) -> None:
    with pytest.raises(AttributeError, match="projects"):
        await cached.projects_for(["1"])


# -- pass-through -------------------------------------------------------------------------------


async def test_is_a_connector_and_handles_empty_input(cached: CachedConnector, upstream: ScriptedUpstream) -> None:
    assert isinstance(cached, Connector)
    assert await cached.fetch_many([]) == []
    assert await cached.invoices_for([]) == {}
    assert upstream.fetch_calls == [] and upstream.invoice_calls == []


async def test_search_iterate_and_url_pass_through(cached: CachedConnector, upstream: ScriptedUpstream) -> None:
    assert [r.id for r in await cached.search(name="Customer 2")] == ["2"]
    assert [r.id async for r in cached.iterate()] == ["1", "2", "3"]
    assert cached.record_url("7") == "https://qbo.example/customer/7"
    assert cached.system is QB
    assert upstream.fetch_calls == []


# -- backends -----------------------------------------------------------------------------------


async def test_redis_holds_json_kept_for_ttl_plus_stale_ttl(redis_url: str, upstream: ScriptedUpstream) -> None:
    import orjson
    import redis.asyncio as redis_client

    settings = CacheSettings(backend="redis", redis_url=redis_url, ttl_s=TTL, stale_ttl_s=STALE_TTL,
                             namespace=f"t{uuid.uuid4().hex[:12]}")
    cache = open_cache(settings)
    client = redis_client.Redis.from_url(redis_url)
    try:
        cached = CachedConnector(upstream, cache, settings)
        await cached.fetch("1")
        key = f"{settings.namespace}:quickbooks:1"
        raw = await client.get(key)
        assert raw is not None
        stored = orjson.loads(raw)
        assert stored["v"]["$"] == "record" and stored["v"]["id"] == "1"
        assert TTL < await client.ttl(key) <= TTL + STALE_TTL
    finally:
        await client.aclose()
        await cache.close()


async def test_an_unreachable_redis_reads_through(upstream: ScriptedUpstream) -> None:
    from tests.support._throwaway import free_port

    settings = CacheSettings(backend="redis", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    cache = open_cache(settings)
    try:
        cached = CachedConnector(upstream, cache, settings)
        assert await cached.fetch_many(["1"]) == [upstream.records["1"]]
        assert cached.stats.backend_errors >= 1
    finally:
        await cache.close()


def test_open_cache_rejects_other_urls() -> None:
    with pytest.raises(ValueError, match="redis://"):
        open_cache(CacheSettings(backend="redis", redis_url="http://localhost:6379"))

