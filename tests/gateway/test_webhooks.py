"""`POST /webhooks/{system}` on the in-process app: verification, the Graph handshake, dedupe of repeats."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from connectors import CacheSettings, CachedConnector, SystemName, open_cache
from connectors._quickbooks_events import QuickBooksWebhooks
from connectors._sharepoint_events import GraphNotifications
from connectors._teamwork_events import TeamworkWebhooks
from gateway.app import create_app
from gateway.change_events import ChangeServices
from gateway.config import Settings
from resolvers import Services
from tests.support.fakes import FakeConnector, make_record
from xref import XrefService, create_engine, create_sessions, upgrade
from xref.engine import DECIDED_BY

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS
VERIFIER, REALM, TW_TOKEN, CLIENT_STATE = "verifier", "4620816365", "tw-token", "client-state"


class QuickBooksFake(FakeConnector):
    def webhooks(self) -> QuickBooksWebhooks:
        return QuickBooksWebhooks(VERIFIER, REALM)


class TeamworkFake(FakeConnector):
    def webhooks(self) -> TeamworkWebhooks:
        return TeamworkWebhooks(TW_TOKEN)


class SharePointFake(FakeConnector):
    def webhooks(self) -> GraphNotifications:
        return GraphNotifications(CLIENT_STATE)


@dataclass
class Gateway:
    client: httpx.AsyncClient
    changes: ChangeServices
    xref: XrefService
    fakes: dict[SystemName, FakeConnector]
    forgotten: list[str]

    async def settled(self) -> None:
        await asyncio.wait_for(self.changes.inbox.idle.wait(), timeout=10)

    def searches(self) -> int:
        return sum(len(f.search_calls) for f in self.fakes.values())


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'xref.sqlite3'}")
    await upgrade(engine)
    xref = XrefService(create_sessions(engine))
    acme = (await xref.link_record(SP, "1", None, confidence=1.0, evidence={}, decided_by=DECIDED_BY)).customer_id
    await xref.link_record(TW, "9", acme, confidence=0.99, evidence={}, decided_by=DECIDED_BY)
    fakes: dict[SystemName, FakeConnector] = {
        SP: SharePointFake(SP, [make_record(SP, "1", name="Acme Widgets Inc", email="ops@acme.com")]),
        TW: TeamworkFake(TW, [make_record(TW, "9", name="ACME Widgets", email="ops@acme.com")]),
        QB: QuickBooksFake(QB, [make_record(QB, "5", name="Acme Widgets, Inc.", email="ops@acme.com")]),
    }
    cache = open_cache(CacheSettings())
    connectors = {s: CachedConnector(f, cache, CacheSettings()) for s, f in fakes.items()}
    forgotten: list[str] = []
    for connector in connectors.values():
        connector.forget_listeners.append(forgotten.extend)
    app = create_app(Settings(sync={"poll_interval_s": 0}),  # type: ignore[arg-type]
                     services=Services(xref=xref, connectors=connectors))
    async with app.router.lifespan_context(app) as state:
        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            await app({**scope, "state": dict(state or {})}, receive, send)

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=with_state), base_url="http://c360") as client:
            yield Gateway(client, state["changes"], xref, fakes, forgotten)  # type: ignore[index]
    await cache.close()
    await engine.dispose()


def qbo_delivery(record_id: str = "5", when: str = "2026-05-20T09:31:44.000Z") -> bytes:
    return json.dumps({"eventNotifications": [{"realmId": REALM, "dataChangeEvent": {"entities": [
        {"name": "Customer", "id": record_id, "operation": "Create", "lastUpdated": when}]}}]}).encode()


def intuit_signature(body: bytes, key: str = VERIFIER) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


async def post(gateway: Gateway, system: str, body: bytes, headers: dict[str, str] | None = None,
               params: dict[str, str] | None = None) -> httpx.Response:
    return await gateway.client.post(f"/webhooks/{system}", content=body, params=params,
                                     headers={"content-type": "application/json", **(headers or {})})


async def test_a_signed_quickbooks_delivery_is_answered_200_and_matched(gateway: Gateway) -> None:
    body = qbo_delivery()
    response = await post(gateway, "quickbooks", body, {"intuit-signature": intuit_signature(body)})
    await gateway.settled()

    assert response.status_code == 200
    assert gateway.changes.inbox.handled.linked == 1
    assert "quickbooks:5" in gateway.forgotten


@pytest.mark.parametrize("signature", ["", intuit_signature(b"{}"), intuit_signature(b"x", "wrong")])
async def test_a_bad_signature_gets_401_and_changes_nothing(gateway: Gateway, signature: str) -> None:
    body = qbo_delivery()
    response = await post(gateway, "quickbooks", body, {"intuit-signature": signature})
    await gateway.settled()

    assert response.status_code == 401
    assert gateway.changes.inbox.handled.received == 0
    assert gateway.forgotten == [] and gateway.searches() == 0
    assert await gateway.xref.customer_for(QB, "5") is None


async def test_the_same_delivery_twice_has_one_effect(gateway: Gateway) -> None:
    body = qbo_delivery()
    headers = {"intuit-signature": intuit_signature(body)}
    first = await post(gateway, "quickbooks", body, headers)
    await gateway.settled()
    searches, forgotten = gateway.searches(), list(gateway.forgotten)
    second = await post(gateway, "quickbooks", body, headers)
    await gateway.settled()

    assert first.status_code == second.status_code == 200
    handled = gateway.changes.inbox.handled
    assert (handled.received, handled.duplicates, handled.linked, handled.invalidated) == (2, 1, 1, 1)
    assert gateway.searches() == searches and gateway.forgotten == forgotten


async def test_a_teamwork_delivery_is_checked_against_its_hex_signature(gateway: Gateway) -> None:
    body = json.dumps({"eventCreator": {"id": 1}, "company": {"id": 9, "updatedAt": "2026-05-20T09:40:12Z"}}).encode()
    good = hmac.new(TW_TOKEN.encode(), body, hashlib.sha256).hexdigest()

    refused = await post(gateway, "teamwork", body, {"x-projects-signature": "0" * 64,
                                                    "x-projects-event": "COMPANY.UPDATED"})
    taken = await post(gateway, "teamwork", body, {"x-projects-signature": good, "x-projects-event": "COMPANY.UPDATED"})
    await gateway.settled()

    assert (refused.status_code, taken.status_code) == (401, 200)
    assert gateway.changes.inbox.handled.received == 1


async def test_the_graph_validation_handshake_echoes_the_token_as_text(gateway: Gateway) -> None:
    token = "Validation: Testing client application reachability for subscription Request-Id: 1 + 2"
    response = await gateway.client.post("/webhooks/sharepoint", params={"validationToken": token},
                                         headers={"content-type": "text/plain"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == token


def graph_body(state: str) -> bytes:
    notification: dict[str, Any] = {"subscriptionId": "sub-1", "clientState": state, "changeType": "updated",
                                    "resource": "sites/s/lists/Customers", "tenantId": "t", "resourceData": {}}
    return json.dumps({"value": [notification]}).encode()


async def test_a_graph_notification_with_another_client_state_gets_401(gateway: Gateway) -> None:
    refused = await post(gateway, "sharepoint", graph_body("guessed"))
    taken = await post(gateway, "sharepoint", graph_body(CLIENT_STATE))
    await gateway.settled()

    assert (refused.status_code, taken.status_code) == (401, 202)


async def test_an_unknown_system_is_404(gateway: Gateway) -> None:
    assert (await post(gateway, "salesforce", b"{}")).status_code == 404


async def test_webhooks_need_no_api_key(tmp_path: Path) -> None:
    """Systems cannot send our API keys: the webhook routes are outside the GraphQL key check."""
    settings = Settings(auth={"api_keys": {"ops": "k" * 32}}, sync={"poll_interval_s": 0})  # type: ignore[arg-type]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    await upgrade(engine)
    app = create_app(settings, services=Services(xref=XrefService(create_sessions(engine)),
                                                 connectors={QB: QuickBooksFake(QB)}))
    body = qbo_delivery()
    async with contextlib.AsyncExitStack() as stack:
        state = await stack.enter_async_context(app.router.lifespan_context(app))

        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            await app({**scope, "state": dict(state or {})}, receive, send)

        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=with_state), base_url="http://c360"))
        response = await client.post("/webhooks/quickbooks", content=body,
                                     headers={"intuit-signature": intuit_signature(body)})
    await engine.dispose()
    assert response.status_code == 200
