"""The shared bearer-token auth: one renewal for many 401s, bounded retries, rotation, no secrets in logs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from connectors import AuthenticationFailed, QuickBooksSettings, RateLimited, SharePointSettings, SourceUnavailable
from connectors import SystemName, UpstreamLimits
from connectors._http import SourceClient
from connectors._quickbooks_auth import QuickBooksAuth
from connectors._sharepoint_auth import GraphTokenAuth

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


async def no_sleep(_: float) -> None:
    return None


def graph_auth(handler: Handler, **limits: float) -> tuple[GraphTokenAuth, httpx.AsyncClient]:
    settings = SharePointSettings(
        token_url="https://login.test/{tenant}/token", tenant_id="t", client_id="c", client_secret=SecretStr("s3cret")
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return GraphTokenAuth(settings, UpstreamLimits(**limits), sleep=no_sleep), client


def quickbooks_auth(handler: Handler, store: Path | None = None, **limits: float) -> tuple[QuickBooksAuth, httpx.AsyncClient]:
    settings = QuickBooksSettings(
        realm_id="r", client_id="c", client_secret=SecretStr("s"), refresh_token=SecretStr("configured"),
        token_store=str(store) if store else None,
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return QuickBooksAuth(settings, UpstreamLimits(**limits), sleep=no_sleep), client


async def test_ten_concurrent_401s_renew_the_token_once() -> None:
    calls = {"token": 0}
    current = {"token": ""}

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            calls["token"] += 1
            await asyncio.sleep(0.01)
            current["token"] = f"T{calls['token']}"
            return httpx.Response(200, json={"access_token": current["token"], "expires_in": 3600})
        ok = request.headers["Authorization"] == f"Bearer {current['token']}"
        return httpx.Response(200 if ok else 401, json={})

    auth, http = graph_auth(handler)
    client = SourceClient(
        SystemName.SHAREPOINT, http, UpstreamLimits(), auth,
        lambda r: AuthenticationFailed(SystemName.SHAREPOINT, "refused"), sleep=no_sleep,
    )
    await client.request("GET", "https://graph.test/x")
    current["token"] = "revoked"

    await asyncio.gather(*(client.request("GET", "https://graph.test/x") for _ in range(10)))

    assert calls["token"] == 2 and auth.tokens_fetched == 2


async def test_token_endpoint_refusal_after_transient_errors_names_the_aadsts_code() -> None:
    statuses = [503, 429, 400]

    async def handler(request: httpx.Request) -> httpx.Response:
        status = statuses.pop(0)
        headers = {"Retry-After": "0"} if status == 429 else {}
        return httpx.Response(status, json={"error": "invalid_client", "error_codes": [7000215]}, headers=headers)

    auth, http = graph_auth(handler)
    with pytest.raises(AuthenticationFailed) as refused:
        await auth.headers(http)
    assert "invalid_client AADSTS7000215" in str(refused.value)
    assert auth.token_requests == 3


async def test_unreachable_token_endpoint_gives_up_after_max_attempts() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    auth, http = graph_auth(handler, max_attempts=3)
    with pytest.raises(SourceUnavailable):
        await auth.headers(http)
    assert auth.token_requests == 3


async def test_token_is_renewed_before_it_expires_not_on_every_call() -> None:
    now = [0.0]

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "A", "expires_in": 100})

    auth, http = graph_auth(handler)
    auth._clock = lambda: now[0]
    await auth.headers(http)
    now[0] = 49
    await auth.headers(http)
    assert auth.tokens_fetched == 1
    now[0] = 50
    await auth.headers(http)
    assert auth.tokens_fetched == 2


async def test_quickbooks_falls_back_to_the_configured_refresh_token_and_keeps_the_rotated_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = tmp_path / "token.json"
    store.write_text(json.dumps({"realm_id": "r", "refresh_token": "stored-old"}))
    sent: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        form = dict(pair.split("=") for pair in request.content.decode().split("&"))
        sent.append(form["refresh_token"])
        if form["refresh_token"] == "stored-old":
            return httpx.Response(400, json={"error": "invalid_grant"})
        return httpx.Response(200, json={"access_token": "AT", "expires_in": 3600, "refresh_token": "rotated"})

    auth, http = quickbooks_auth(handler, store)
    assert await auth.headers(http) == {"Authorization": "Bearer AT"}
    assert sent == ["stored-old", "configured"] and auth.token_requests == 2
    assert json.loads(store.read_text())["refresh_token"] == "rotated"
    for secret in ("AT", "rotated", "configured", "stored-old"):
        assert secret not in caplog.text


async def test_quickbooks_every_refresh_token_rejected_says_reconnect() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "invalid_grant"})

    auth, http = quickbooks_auth(handler)
    with pytest.raises(AuthenticationFailed) as refused:
        await auth.headers(http)
    assert refused.value.code == "invalid_grant" and auth.token_requests == 1


async def test_quickbooks_throttled_token_endpoint_stops_at_max_attempts() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "0"})

    auth, http = quickbooks_auth(handler, max_attempts=2)
    with pytest.raises(RateLimited):
        await auth.headers(http)
    assert auth.token_requests == 2
