"""ResilientConnector and SourceClient over real HTTP against the simulators' fault knobs.

The breaker's clock is injected (no waiting for reset timeouts); the only real waits are
the simulators' own Retry-After windows, which are the point of the 429-storm test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from connectors import (
    BreakerState,
    CircuitOpen,
    RateLimited,
    ResilienceSettings,
    ResilientConnector,
    SourceTimeout,
    SourceUnavailable,
    UpstreamLimits,
    request_deadline,
)
from connectors._retry import server_retry_after
from connectors.quickbooks import QuickBooksConnector
from connectors.teamwork import TeamworkConnector
from gateway.sandbox_sources import teamwork_settings
from sandbox._credentials import SandboxCredentials
from sandbox._faults import FaultSettings
from sandbox._server import ThreadedServer
from sandbox._store import Store
from sandbox.quickbooks import create_quickbooks_simulator
from sandbox.teamwork import create_teamwork_simulator
from tests.quickbooks.conftest import Qbo
from tests.teamwork.conftest import CUSTOMERS, seed

#: Quick to give up, so an outage surfaces in milliseconds rather than after the production retry budget.
FAIL_FAST = UpstreamLimits(timeout_s=10, max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.05)
#: No retries at all: a 429 surfaces as RateLimited, so "no error" means "no 429".
NO_RETRY = UpstreamLimits(timeout_s=10, max_attempts=1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def qbo(credentials: SandboxCredentials, serve: Callable[[Any], ThreadedServer]) -> Qbo:
    sim = create_quickbooks_simulator(Store(None), credentials, None)
    return Qbo(sim, serve(sim.app), credentials)


@pytest.fixture
async def qbo_connector(qbo: Qbo) -> AsyncIterator[Callable[[UpstreamLimits], QuickBooksConnector]]:
    opened: list[QuickBooksConnector] = []

    def make(limits: UpstreamLimits) -> QuickBooksConnector:
        connector = QuickBooksConnector(qbo.settings(), limits)
        opened.append(connector)
        return connector

    yield make
    for connector in opened:
        await connector.aclose()
    qbo.http.close()


def upstream_calls(qbo: Qbo) -> int:
    return int(qbo.admin("GET", "/stats").json()["total"])


async def test_breaker_stops_calling_a_dead_system_and_recovers(
    qbo: Qbo, qbo_connector: Callable[[UpstreamLimits], QuickBooksConnector]
) -> None:
    customer_id = qbo.create_customer(DisplayName="Acme Outage Ltd")["Id"]
    clock = FakeClock()
    conn = ResilientConnector(
        qbo_connector(FAIL_FAST), ResilienceSettings(failure_threshold=3, reset_timeout_s=30), clock=clock
    )
    assert (await conn.fetch(customer_id)).id == customer_id  # token fetched while the system is up

    qbo.admin("PATCH", "/faults", {"outage": True})
    for _ in range(3):
        with pytest.raises(SourceUnavailable) as failed:
            await conn.fetch(customer_id)
        assert not isinstance(failed.value, CircuitOpen)
    assert conn.breaker.state is BreakerState.OPEN

    seen = upstream_calls(qbo)
    for _ in range(10):
        with pytest.raises(CircuitOpen):
            await conn.fetch(customer_id)
    with pytest.raises(CircuitOpen):
        await conn.invoices_for([customer_id])
    assert upstream_calls(qbo) == seen  # the dead system was not called at all

    clock.now += 30  # half-open: one probe reaches the system, which is still down
    with pytest.raises(SourceUnavailable) as probe:
        await conn.fetch(customer_id)
    assert not isinstance(probe.value, CircuitOpen)
    assert upstream_calls(qbo) > seen
    assert conn.breaker.state is BreakerState.OPEN
    seen = upstream_calls(qbo)
    with pytest.raises(CircuitOpen):
        await conn.fetch(customer_id)
    assert upstream_calls(qbo) == seen

    qbo.admin("PATCH", "/faults", {"outage": False})
    clock.now += 30
    assert (await conn.fetch(customer_id)).id == customer_id  # the probe succeeds
    assert conn.breaker.state is BreakerState.CLOSED
    assert await conn.invoices_for([customer_id]) == {customer_id: []}


async def test_concurrency_cap_keeps_under_the_systems_limit(
    qbo: Qbo, qbo_connector: Callable[[UpstreamLimits], QuickBooksConnector]
) -> None:
    ids = [qbo.create_customer(DisplayName=f"Acme {i:02d} Ltd")["Id"] for i in range(12)]
    capped = ResilientConnector(qbo_connector(NO_RETRY), ResilienceSettings(max_concurrent=2))
    uncapped = qbo_connector(NO_RETRY)
    await capped.fetch(ids[0])  # tokens first, so only API calls race
    await uncapped.fetch(ids[0])
    qbo.admin("PATCH", "/faults", {"max_concurrent": 3, "latency_ms": 100})

    # The control: without the cap the simulator does throttle this burst.
    results = await asyncio.gather(*(uncapped.fetch(i) for i in ids), return_exceptions=True)
    assert any(isinstance(r, RateLimited) for r in results), results

    records = await asyncio.gather(*(capped.fetch(i) for i in ids))
    assert [r.id for r in records] == ids  # no 429: with no retries, one would have failed a call
    assert capped.max_in_flight == 2


async def test_a_hanging_system_fails_within_the_deadline(
    qbo: Qbo, qbo_connector: Callable[[UpstreamLimits], QuickBooksConnector]
) -> None:
    customer_id = qbo.create_customer(DisplayName="Acme Hang Ltd")["Id"]
    conn = ResilientConnector(qbo_connector(FAIL_FAST), ResilienceSettings(call_timeout_s=0.5))
    await conn.fetch(customer_id)
    # hang_s stays short: the simulator's server waits for hanging requests when it stops.
    qbo.admin("PATCH", "/faults", {"timeout_rate": 1, "hang_s": 3})

    started = time.monotonic()
    with pytest.raises(SourceTimeout):
        await conn.fetch(customer_id)
    assert time.monotonic() - started < 2.5  # own timeout 0.5 s, well before the 3 s hang (or 10 s HTTP timeout)

    token = request_deadline.set(time.monotonic() + 0.3)  # the request deadline is tighter than 0.5 s
    try:
        started = time.monotonic()
        results = await asyncio.gather(
            conn.fetch(customer_id), conn.invoices_for([customer_id]), return_exceptions=True
        )
    finally:
        request_deadline.reset(token)
    assert all(isinstance(r, SourceTimeout) for r in results), results
    assert time.monotonic() - started < 2.5


# --- Retry-After: the SourceClient never comes back sooner than told --------------------------------------


@dataclass
class Exchange:
    path: str
    sent: float
    received: float
    status: int
    wait_given: float | None


class RecordingTransport(httpx.AsyncBaseTransport):
    """Real HTTP, with the time of every request and the wait every 429 asked for."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.log: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sent = time.monotonic()
        response = await self.inner.handle_async_request(request)
        await response.aread()
        wait = server_retry_after(response) if response.status_code == 429 else None
        self.log.append(Exchange(request.url.path, sent, time.monotonic(), response.status_code, wait))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize("send_retry_after", [True, False], ids=["retry-after", "x-rate-limit-reset"])
async def test_a_429_storm_from_teamwork_is_absorbed_without_early_retries(
    send_retry_after: bool, credentials: SandboxCredentials, serve: Callable[[Any], ThreadedServer]
) -> None:
    faults = FaultSettings(rate_limit_per_minute=4, rate_window_s=1.0, send_retry_after=send_retry_after)
    server = serve(create_teamwork_simulator(seed(Store(None)), credentials, faults).app)
    transport = RecordingTransport()
    limits = UpstreamLimits(timeout_s=10, max_attempts=10, retry_deadline_s=30)
    conn = ResilientConnector(TeamworkConnector(teamwork_settings(server.url, credentials), limits, transport=transport))
    try:
        ids = [str(i) for i in range(2, 2 + CUSTOMERS)]
        records = await asyncio.gather(*(conn.fetch(i) for i in ids))  # every one must succeed
    finally:
        await conn.aclose()
    assert [r.id for r in records] == ids

    throttled = [e for e in transport.log if e.status == 429]
    assert throttled, "the storm did not happen: the simulator never throttled"
    assert all(e.wait_given is not None and e.wait_given >= 1 for e in throttled)
    for path in {e.path for e in transport.log}:
        attempts = [e for e in transport.log if e.path == path]
        assert attempts[-1].status == 200
        for before, after in zip(attempts, attempts[1:]):
            assert before.status == 429
            assert before.wait_given is not None
            waited = after.sent - before.received
            assert waited >= before.wait_given - 0.01, (path, waited, before.wait_given)


async def test_a_system_refusing_until_the_deadline_is_unavailable_not_slow(
    qbo: Qbo, qbo_connector: Callable[[UpstreamLimits], QuickBooksConnector]
) -> None:
    customer_id = qbo.create_customer(DisplayName="Acme Outage Ltd")["Id"]
    patient = UpstreamLimits(timeout_s=10, max_attempts=50, backoff_base_s=0.05, backoff_max_s=0.05)
    conn = ResilientConnector(qbo_connector(patient), ResilienceSettings(failure_threshold=100))
    await conn.fetch(customer_id)
    # Each 503 takes 150 ms, so the deadline falls while an attempt is in flight.
    qbo.admin("PATCH", "/faults", {"error_rate": 1, "error_status": 503, "latency_ms": 150})
    token = request_deadline.set(time.monotonic() + 0.6)
    try:
        with pytest.raises(SourceUnavailable) as caught:
            await conn.fetch(customer_id)
    finally:
        request_deadline.reset(token)
        qbo.admin("PATCH", "/faults", {"error_rate": 0, "latency_ms": 0})
    assert not isinstance(caught.value, SourceTimeout), caught.value
