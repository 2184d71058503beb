"""A QuickBooks simulator on 127.0.0.1 and a plain HTTP client for contract tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from connectors import QuickBooksSettings
from sandbox._credentials import SandboxCredentials
from sandbox._faults import FaultSettings
from sandbox._server import ThreadedServer
from sandbox._simulator import Simulator
from sandbox._store import Store
from gateway.sandbox_sources import quickbooks_settings as sandbox_settings
from sandbox.quickbooks import QuickBooksSimConfig, create_quickbooks_simulator


@dataclass
class Qbo:
    sim: Simulator
    server: ThreadedServer
    credentials: SandboxCredentials
    http: httpx.Client = field(init=False)
    refresh_token: str = field(init=False)
    access_token: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.server.url, timeout=10)
        self.refresh_token = self.credentials.quickbooks_refresh_token

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def api(self) -> str:
        return f"/v3/company/{self.credentials.quickbooks_realm_id}"

    def settings(self, **overrides: Any) -> QuickBooksSettings:
        return sandbox_settings(self.url, self.credentials).model_copy(update=overrides)

    def token_call(self, **form: str) -> httpx.Response:
        return self.http.post(
            "/oauth2/v1/tokens/bearer",
            data=form,
            auth=(self.credentials.quickbooks_client_id, self.credentials.quickbooks_client_secret),
        )

    def token(self) -> str:
        if self.access_token is None:
            resp = self.token_call(grant_type="refresh_token", refresh_token=self.refresh_token)
            resp.raise_for_status()
            self.refresh_token = resp.json()["refresh_token"]
            self.access_token = resp.json()["access_token"]
        return self.access_token

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}", "Accept": "application/json", **kw.pop("headers", {})}
        params = {"minorversion": "75", **kw.pop("params", {})}
        return self.http.request(method, f"{self.api}{path}", headers=headers, params=params, **kw)

    def query(self, sql: str) -> httpx.Response:
        return self.call("GET", "/query", params={"query": sql})

    def create_customer(self, **fields: Any) -> dict[str, Any]:
        resp = self.call("POST", "/customer", json=fields)
        assert resp.status_code == 200, resp.text
        return resp.json()["Customer"]

    def create_invoice(self, customer_id: str, *amounts: float, **fields: Any) -> dict[str, Any]:
        lines = [{"Amount": a, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": "1", "name": "Services"}}} for a in amounts]
        resp = self.call("POST", "/invoice", json={"CustomerRef": {"value": customer_id}, "Line": lines, **fields})
        assert resp.status_code == 200, resp.text
        return resp.json()["Invoice"]

    def admin(self, method: str, path: str, json: Any = None) -> httpx.Response:
        resp = self.http.request(method, f"/_admin{path}", json=json)
        assert resp.status_code == 200, resp.text
        return resp

    def calls(self, key: str) -> int:
        return int(self.admin("GET", "/stats").json()["calls"].get(key, 0))


@pytest.fixture
def start_qbo(
    credentials: SandboxCredentials, serve: Callable[[Any], ThreadedServer]
) -> Iterator[Callable[..., Qbo]]:
    opened: list[Qbo] = []

    def start(
        store: Store | None = None, faults: FaultSettings | None = None, config: QuickBooksSimConfig | None = None
    ) -> Qbo:
        sim = create_quickbooks_simulator(store or Store(None), credentials, faults, config=config)
        qbo = Qbo(sim, serve(sim.app), credentials)
        opened.append(qbo)
        return qbo

    yield start
    for qbo in opened:
        qbo.http.close()


@pytest.fixture
def qbo(start_qbo: Callable[..., Qbo]) -> Qbo:
    return start_qbo()
