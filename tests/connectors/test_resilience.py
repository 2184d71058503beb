"""ResilientConnector and CircuitBreaker against a scripted in-memory connector, with an injected clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import pytest

from connectors import (
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    Connector,
    Invoice,
    RateLimited,
    RecordChanges,
    RecordNotFound,
    ResilienceSettings,
    ResilientConnector,
    SourceRecord,
    SourceRejected,
    SourcesSettings,
    SourceTimeout,
    SourceUnavailable,
    SystemName,
    TeamworkSettings,
    request_deadline,
    resilient,
)
from resolvers.errors import error_code, source_error
from tests.support.fakes import make_record

QBO = SystemName.QUICKBOOKS

#: A step of the script: raise it (an exception), block on it (an event), or None to succeed.
Step = Exception | asyncio.Event | None


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScriptedConnector:
    """A Connector whose calls follow a script; counts calls and those in flight, like a simulator would."""

    conditional_writes = True
    unique_attributes: frozenset[str] = frozenset()

    def __init__(self, system: SystemName = QBO, script: Sequence[Step] = ()) -> None:
        self.system = system
        self.script: list[Step] = list(script)
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.page_size = 50  # a plain attribute, passed through
        self.closed = False

    async def _step(self) -> None:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            step = self.script.pop(0) if self.script else None
            if isinstance(step, asyncio.Event):
                await step.wait()
            elif step is not None:
                raise step
        finally:
            self.in_flight -= 1

    async def fetch(self, record_id: str) -> SourceRecord:
        await self._step()
        return make_record(self.system, record_id)

    async def fetch_many(self, record_ids: Sequence[str]) -> list[SourceRecord | None]:
        await self._step()
        return [make_record(self.system, i) for i in record_ids]

    async def iterate(self) -> AsyncIterator[SourceRecord]:
        for i in range(3):
            await self._step()
            yield make_record(self.system, str(i))

    async def search(
        self, *, name: str | None = None, email: str | None = None, phone: str | None = None
    ) -> list[SourceRecord]:
        await self._step()
        return []

    async def create(self, changes: RecordChanges) -> SourceRecord:
        await self._step()
        return make_record(self.system, "new")

    async def update(self, record_id: str, version: str | None, changes: RecordChanges) -> SourceRecord:
        await self._step()
        return make_record(self.system, record_id)

    async def invoices_for(self, customer_ids: Sequence[str]) -> dict[str, list[Invoice]]:
        """The relation method, as QuickBooksConnector has it."""
        await self._step()
        return {c: [] for c in customer_ids}

    def record_url(self, record_id: str) -> str:
        return f"https://example.test/{record_id}"

    async def aclose(self) -> None:
        self.closed = True


def down(message: str = "503") -> SourceUnavailable:
    return SourceUnavailable(QBO, message, status=503)


def wrap(
    inner: ScriptedConnector, clock: FakeClock | None = None, **settings: object
) -> ResilientConnector:
    base = {"failure_threshold": 3, "reset_timeout_s": 10.0, **settings}
    return ResilientConnector(inner, ResilienceSettings.model_validate(base), clock=clock or FakeClock())


async def fail_times(conn: ResilientConnector, n: int) -> None:
    for _ in range(n):
        with pytest.raises(SourceUnavailable):
            await conn.fetch("1")


# --- circuit breaker ---------------------------------------------------------------------------


async def test_breaker_opens_after_consecutive_failures_and_then_fails_fast() -> None:
    inner = ScriptedConnector(script=[down()] * 3)
    conn = wrap(inner)
    await fail_times(conn, 3)
    assert conn.breaker.state is BreakerState.OPEN

    for _ in range(5):
        with pytest.raises(CircuitOpen) as caught:
            await conn.fetch("1")
    assert inner.calls == 3  # the open breaker never reached the system
    assert conn.breaker.rejected == 5
    err = caught.value
    assert isinstance(err, SourceUnavailable) and err.system is QBO
    assert err.retry_in == pytest.approx(10.0)
    assert error_code(err) == "SOURCE_UNAVAILABLE"
    ext = source_error(err).extensions or {}
    assert ext["reason"] == "CIRCUIT_OPEN" and ext["retryAfter"] == pytest.approx(10.0, abs=0.1)


async def test_failures_must_be_consecutive() -> None:
    inner = ScriptedConnector(script=[down(), down(), None, down(), down()])
    conn = wrap(inner)
    await fail_times(conn, 2)
    await conn.fetch("1")
    await fail_times(conn, 2)
    assert conn.breaker.state is BreakerState.CLOSED
    assert conn.breaker.consecutive_failures == 2


@pytest.mark.parametrize(
    "answer",
    [RecordNotFound(QBO, "no such customer"), SourceRejected(QBO, "invalid", status=400)],
    ids=["not-found", "rejected"],
)
async def test_answers_from_a_working_system_do_not_count(answer: Exception) -> None:
    inner = ScriptedConnector(script=[down(), down(), answer, down(), down()])
    conn = wrap(inner)
    await fail_times(conn, 2)
    with pytest.raises(type(answer)):
        await conn.fetch("1")
    await fail_times(conn, 2)
    assert conn.breaker.state is BreakerState.CLOSED  # the answer reset the count


async def test_timeouts_count_as_failures() -> None:
    conn = wrap(ScriptedConnector(script=[SourceTimeout(QBO, "slow")] * 3))
    await fail_times(conn, 3)
    assert conn.breaker.state is BreakerState.OPEN


async def test_rate_limited_counts_only_when_configured() -> None:
    throttled = [RateLimited(QBO, "429", retry_after=1.0)] * 3
    ignoring = wrap(ScriptedConnector(script=throttled))
    counting = wrap(ScriptedConnector(script=throttled), count_rate_limited=True)
    for conn in (ignoring, counting):
        for _ in range(3):
            with pytest.raises(RateLimited):
                await conn.fetch("1")
    assert ignoring.breaker.state is BreakerState.CLOSED
    assert counting.breaker.state is BreakerState.OPEN


async def test_half_open_lets_one_probe_through_and_success_closes() -> None:
    clock = FakeClock()
    probe_gate = asyncio.Event()
    inner = ScriptedConnector(script=[down()] * 3 + [probe_gate])
    conn = wrap(inner, clock)
    await fail_times(conn, 3)

    clock.advance(9.9)
    with pytest.raises(CircuitOpen):
        await conn.fetch("1")
    clock.advance(0.1)
    assert conn.breaker.state is BreakerState.HALF_OPEN

    probe = asyncio.create_task(conn.fetch("probe"))
    while inner.in_flight == 0:
        await asyncio.sleep(0)
    with pytest.raises(CircuitOpen, match="probe"):  # only one probe at a time
        await conn.fetch("2")
    assert inner.calls == 4

    probe_gate.set()
    assert (await probe).id == "probe"
    assert conn.breaker.state is BreakerState.CLOSED
    await asyncio.gather(*(conn.fetch(str(i)) for i in range(5)))
    assert inner.calls == 9


async def test_failed_probe_reopens_for_a_full_reset_timeout() -> None:
    clock = FakeClock()
    inner = ScriptedConnector(script=[down()] * 4)
    conn = wrap(inner, clock)
    await fail_times(conn, 3)
    clock.advance(10)
    with pytest.raises(SourceUnavailable) as probe:
        await conn.fetch("1")
    assert not isinstance(probe.value, CircuitOpen)  # the probe reached the system
    assert conn.breaker.state is BreakerState.OPEN
    assert inner.calls == 4

    clock.advance(9)
    with pytest.raises(CircuitOpen):
        await conn.fetch("1")
    clock.advance(1)
    await conn.fetch("1")  # the system is back
    assert conn.breaker.state is BreakerState.CLOSED


async def test_cancelled_probe_frees_the_probe_slot() -> None:
    clock = FakeClock()
    inner = ScriptedConnector(script=[down()] * 3 + [asyncio.Event()])
    conn = wrap(inner, clock)
    await fail_times(conn, 3)
    clock.advance(10)
    probe = asyncio.create_task(conn.fetch("1"))
    while inner.in_flight == 0:
        await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    await conn.fetch("2")  # a new probe is allowed, and it succeeds
    assert conn.breaker.state is BreakerState.CLOSED


def test_breaker_rejects_a_zero_threshold() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(QBO, failure_threshold=0)


# --- concurrency cap -------------------------------------------------------------------------------


async def test_concurrency_cap_bounds_calls_in_flight() -> None:
    gate = asyncio.Event()
    inner = ScriptedConnector(script=[gate] * 10)
    conn = wrap(inner, max_concurrent=3)
    tasks = [asyncio.create_task(conn.fetch(str(i))) for i in range(10)]
    while inner.in_flight < 3:
        await asyncio.sleep(0)
    for _ in range(5):
        await asyncio.sleep(0)
    assert inner.in_flight == 3 and conn.in_flight == 3
    gate.set()
    records = await asyncio.gather(*tasks)
    assert [r.id for r in records] == [str(i) for i in range(10)]
    assert inner.max_in_flight == 3 and conn.max_in_flight == 3
    assert conn.in_flight == 0


def test_default_caps_come_from_the_per_system_table() -> None:
    caps = {s: ResilientConnector(ScriptedConnector(s)).max_concurrent for s in SystemName}
    assert caps == {SystemName.QUICKBOOKS: 8, SystemName.TEAMWORK: 10, SystemName.SHAREPOINT: 16}
    assert ResilientConnector(ScriptedConnector(QBO), ResilienceSettings(max_concurrent=2)).max_concurrent == 2


def test_sources_settings_resilience_defaults_and_per_system_override() -> None:
    sources = SourcesSettings(
        resilience=ResilienceSettings(failure_threshold=7),
        teamwork=TeamworkSettings(resilience=ResilienceSettings(call_timeout_s=2.0, max_concurrent=4)),
    )
    assert sources.resilience_for("quickbooks").failure_threshold == 7
    teamwork = sources.resilience_for("teamwork")
    assert (teamwork.failure_threshold, teamwork.call_timeout_s, teamwork.concurrency_for("teamwork")) == (5, 2.0, 4)
    defaults = SourcesSettings().resilience
    assert (defaults.failure_threshold, defaults.reset_timeout_s, defaults.call_timeout_s) == (5, 10.0, None)
    assert SourcesSettings().limits_for("quickbooks").max_attempts == 8  # existing defaults untouched


# --- deadlines -----------------------------------------------------------------------------------------


async def test_call_timeout_turns_a_hang_into_source_timeout_and_counts_for_the_breaker() -> None:
    conn = wrap(ScriptedConnector(script=[asyncio.Event()]), call_timeout_s=0.05, failure_threshold=1)
    started = time.monotonic()
    with pytest.raises(SourceTimeout, match="no answer within 0.05s"):
        await conn.fetch("1")
    assert time.monotonic() - started < 2.0
    assert conn.breaker.state is BreakerState.OPEN
    assert conn.in_flight == 0


async def test_request_deadline_bounds_every_call() -> None:
    inner = ScriptedConnector(script=[asyncio.Event(), asyncio.Event()])
    conn = wrap(inner, call_timeout_s=30.0)  # the request deadline is the tighter one
    token = request_deadline.set(time.monotonic() + 0.1)
    try:
        started = time.monotonic()
        results = await asyncio.gather(conn.fetch("1"), conn.invoices_for(["1"]), return_exceptions=True)
        assert all(isinstance(r, SourceTimeout) for r in results), results
        assert time.monotonic() - started < 2.0
    finally:
        request_deadline.reset(token)


async def test_a_passed_deadline_fails_without_calling_the_system() -> None:
    inner = ScriptedConnector()
    conn = wrap(inner)
    token = request_deadline.set(time.monotonic() - 1)
    try:
        with pytest.raises(SourceTimeout, match="deadline already passed"):
            await conn.fetch("1")
    finally:
        request_deadline.reset(token)
    assert inner.calls == 0
    assert conn.breaker.consecutive_failures == 0


async def test_waiting_for_a_slot_past_the_deadline_does_not_count_against_the_system() -> None:
    gate = asyncio.Event()
    inner = ScriptedConnector(script=[gate])
    conn = wrap(inner, max_concurrent=1, failure_threshold=1)
    holder = asyncio.create_task(conn.fetch("slow"))
    while inner.in_flight == 0:
        await asyncio.sleep(0)
    token = request_deadline.set(time.monotonic() + 0.05)
    try:
        with pytest.raises(SourceTimeout, match="no free slot"):
            await conn.fetch("queued")
    finally:
        request_deadline.reset(token)
    assert conn.breaker.state is BreakerState.CLOSED and inner.calls == 1
    gate.set()
    await holder


# --- the wrapper as a Connector ----------------------------------------------------------------------


async def test_wrapper_is_a_connector_and_guards_every_method() -> None:
    inner = ScriptedConnector(script=[down()] * 3)
    conn = wrap(inner)
    as_protocol: Connector = conn  # mypy checks the protocol here
    assert isinstance(as_protocol, Connector)
    assert conn.system is QBO
    await fail_times(conn, 3)
    calls = inner.calls
    for attempt in (
        conn.fetch_many(["1"]),
        conn.search(name="x"),
        conn.create(RecordChanges(name="x")),
        conn.update("1", "1", RecordChanges(name="x")),
        conn.invoices_for(["1"]),
    ):
        with pytest.raises(CircuitOpen):
            await attempt
    with pytest.raises(CircuitOpen):
        [r async for r in conn.iterate()]
    assert inner.calls == calls
    # never guarded: building a link and closing
    assert conn.record_url("7") == "https://example.test/7"
    await conn.aclose()
    assert inner.closed


async def test_relation_methods_and_attributes_pass_through() -> None:
    inner = ScriptedConnector()
    conn = wrap(inner)
    assert await conn.invoices_for(["1", "2"]) == {"1": [], "2": []}
    assert conn.invoices_for.__name__ == "invoices_for"
    assert conn.page_size == 50
    assert not hasattr(conn, "projects_for")  # only what the wrapped connector has
    assert [r.id for r in [r async for r in conn.iterate()]] == ["0", "1", "2"]
    assert inner.calls == 4
    assert resilient(conn) is conn  # never wrapped twice


async def test_iterate_is_guarded_per_step() -> None:
    gate = asyncio.Event()
    inner = ScriptedConnector(script=[None, gate])
    conn = wrap(inner, call_timeout_s=0.05)
    seen: list[str] = []
    with pytest.raises(SourceTimeout):
        async for record in conn.iterate():
            seen.append(record.id)
    assert seen == ["0"]
    assert conn.in_flight == 0
