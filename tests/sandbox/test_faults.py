"""Fault injection: the knobs tests and benchmarks use to prove the gateway's behaviour."""

from __future__ import annotations

import httpx
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox._faults import FaultKind, FaultSettings, SlidingWindowLimiter
from sandbox._simulator import build_simulator
from sandbox._store import Store


def render(kind: FaultKind, status: int, retry_after: float | None) -> Response:
    return JSONResponse({"fault": kind.value}, status_code=status)


def simulator(**faults: object):
    async def hello(request):  # noqa: ANN001, ANN202
        return JSONResponse({"hello": "world"})

    return build_simulator("test", [Route("/hello", hello)], Store(None), FaultSettings(**faults), render,
                           rate_headers=lambda limit, remaining, reset: {"X-Limit": str(limit)})


async def call(app, path: str = "/hello", method: str = "GET", **kw: object) -> httpx.Response:  # noqa: ANN001
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
        return await client.request(method, path, **kw)


async def test_rate_limit_answers_429_with_retry_after_once_exceeded() -> None:
    sim = simulator(rate_limit_per_minute=2)
    statuses = [(await call(sim.app)).status_code for _ in range(3)]
    last = await call(sim.app)
    assert statuses == [200, 200, 429]
    assert int(last.headers["Retry-After"]) >= 1
    assert last.json() == {"fault": "throttle"}


async def test_outage_is_set_and_cleared_through_the_admin_endpoint() -> None:
    sim = simulator()
    assert (await call(sim.app, "/_admin/faults", "PATCH", json={"outage": True})).status_code == 200
    assert (await call(sim.app)).status_code == 503
    await call(sim.app, "/_admin/faults", "PATCH", json={"outage": False})
    assert (await call(sim.app)).status_code == 200


async def test_invalid_fault_settings_are_refused_with_the_reason() -> None:
    sim = simulator()
    resp = await call(sim.app, "/_admin/faults", "PATCH", json={"error_rate": 7})
    assert resp.status_code == 400
    assert "error_rate" in resp.json()["detail"]
    assert sim.injector.settings.error_rate == 0


async def test_error_rate_one_fails_every_call_with_the_configured_status() -> None:
    sim = simulator(error_rate=1.0, error_status=500)
    assert (await call(sim.app)).status_code == 500


async def test_calls_are_counted_per_path_and_can_be_reset() -> None:
    sim = simulator()
    await call(sim.app)
    await call(sim.app)
    stats = (await call(sim.app, "/_admin/stats")).json()
    assert stats == {"total": 2, "calls": {"GET /hello": 2}}
    await call(sim.app, "/_admin/stats", "DELETE")
    assert (await call(sim.app, "/_admin/stats")).json()["total"] == 0


async def test_rate_headers_ride_on_successful_responses() -> None:
    sim = simulator(rate_limit_per_minute=10)
    assert (await call(sim.app)).headers["X-Limit"] == "10"


def test_sliding_window_frees_calls_as_they_age() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(2, 60, clock=lambda: now[0])
    assert limiter.take() is None and limiter.take() is None
    assert limiter.take() == 60
    now[0] = 61
    assert limiter.take() is None


def test_store_counts_a_collection_without_loading_it(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "s.sqlite3"
    writer = Store(path)
    writer.collection("customers").put_many((i, {"id": i}) for i in range(1, 6))
    writer.close()

    reader = Store(path)
    assert reader.count("customers") == 5
    assert reader.count("invoices") == 0
    assert reader._collections == {}  # nothing was loaded into memory to answer
