"""The shared HTTP edge: when it retries, how long it waits, and what callers see when it gives up."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import httpx
import pytest

from connectors import RateLimited, SourceRejected, SourceTimeout, SourceUnavailable, SystemName, UpstreamLimits
from connectors._http import SourceClient, StaticAuth, request_id_var
from connectors._retry import parse_retry_after, retry_delay

Step = httpx.Response | Exception


def scripted(steps: Iterable[Step]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    queue = list(steps)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = queue.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    return httpx.MockTransport(handler), seen


def translate(resp: httpx.Response) -> SourceRejected | RateLimited | SourceUnavailable:
    if resp.status_code == 429:
        return RateLimited(SystemName.TEAMWORK, "throttled", status=429)
    if resp.status_code >= 500:
        return SourceUnavailable(SystemName.TEAMWORK, "server error", status=resp.status_code)
    return SourceRejected(SystemName.TEAMWORK, "rejected", status=resp.status_code)


def make_client(
    transport: httpx.MockTransport, waits: list[float], auth: object | None = None, **limits: float
) -> SourceClient:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    lim = UpstreamLimits(**limits)
    http = httpx.AsyncClient(base_url="http://system.test", transport=transport)
    return SourceClient(SystemName.TEAMWORK, http, lim, auth or StaticAuth({}), translate, sleep=sleep)


async def test_throttled_read_waits_retry_after_then_succeeds() -> None:
    transport, seen = scripted([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={})])
    waits: list[float] = []

    resp = await make_client(transport, waits).request("GET", "/x")

    assert resp.status_code == 200
    assert waits == [3.0]
    assert len(seen) == 2


async def test_server_error_on_a_write_is_not_repeated() -> None:
    transport, seen = scripted([httpx.Response(500)])

    with pytest.raises(SourceUnavailable):
        await make_client(transport, []).request("POST", "/x", json={})

    assert len(seen) == 1


async def test_throttled_write_is_repeated_because_the_system_did_not_process_it() -> None:
    transport, seen = scripted([httpx.Response(429), httpx.Response(201)])

    resp = await make_client(transport, []).request("POST", "/x", json={})

    assert resp.status_code == 201 and len(seen) == 2


async def test_refused_connection_is_retried_even_for_a_write() -> None:
    transport, seen = scripted([httpx.ConnectError("refused"), httpx.Response(200)])

    resp = await make_client(transport, []).request("PATCH", "/x", json={})

    assert resp.status_code == 200 and len(seen) == 2


async def test_timeout_on_a_write_is_not_repeated_without_an_idempotency_guarantee() -> None:
    transport, seen = scripted([httpx.ReadTimeout("slow")])

    with pytest.raises(SourceTimeout):
        await make_client(transport, []).request("POST", "/x", json={})

    assert len(seen) == 1


async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    transport, seen = scripted([httpx.Response(503)] * 3)

    with pytest.raises(SourceUnavailable):
        await make_client(transport, [], max_attempts=3).request("GET", "/x")

    assert len(seen) == 3


async def test_a_retry_after_beyond_the_deadline_is_not_waited_for() -> None:
    transport, seen = scripted([httpx.Response(429, headers={"Retry-After": "90"})])
    waits: list[float] = []

    with pytest.raises(RateLimited):
        await make_client(transport, waits, retry_deadline_s=30).request("GET", "/x")

    assert waits == [] and len(seen) == 1


class CountingAuth:
    def __init__(self) -> None:
        self.token = "old"
        self.refreshes = 0

    async def headers(self, client: httpx.AsyncClient) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def refresh(self, client: httpx.AsyncClient) -> bool:
        self.refreshes += 1
        self.token = "new"
        return True


async def test_unauthorized_refreshes_credentials_once_and_retries() -> None:
    transport, seen = scripted([httpx.Response(401), httpx.Response(200)])
    auth = CountingAuth()

    await make_client(transport, [], auth).request("GET", "/x")

    assert auth.refreshes == 1
    assert [r.headers["Authorization"] for r in seen] == ["Bearer old", "Bearer new"]


async def test_unauthorized_twice_is_final() -> None:
    transport, seen = scripted([httpx.Response(401), httpx.Response(401)])
    auth = CountingAuth()

    with pytest.raises(SourceRejected):
        await make_client(transport, [], auth).request("GET", "/x")

    assert auth.refreshes == 1 and len(seen) == 2


async def test_request_id_is_forwarded_upstream() -> None:
    transport, seen = scripted([httpx.Response(200)])
    token = request_id_var.set("req-42")
    try:
        await make_client(transport, []).request("GET", "/x")
    finally:
        request_id_var.reset(token)
    assert seen[0].headers["X-Request-Id"] == "req-42"


@pytest.mark.parametrize(
    ("header", "expected"),
    [("5", 5.0), ("0", 0.0), ("2.5", 2.5), ("nonsense", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_parse_retry_after(header: str, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_backoff_grows_and_is_capped() -> None:
    limits = UpstreamLimits(backoff_base_s=0.1, backoff_max_s=1.0)
    delays: Callable[[int], float] = lambda attempt: retry_delay(None, attempt, limits)  # noqa: E731
    assert 0.05 <= delays(0) <= 0.1
    assert 0.4 <= delays(3) <= 0.8
    assert 0.5 <= delays(10) <= 1.0
