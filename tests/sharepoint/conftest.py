"""Fixtures for the SharePoint simulator and connector: a small seeded site served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from connectors import SharePointSettings
from connectors.sharepoint import SharePointConnector
from connectors._settings import UpstreamLimits
from sandbox._credentials import SandboxCredentials
from sandbox._server import ThreadedServer
from sandbox._simulator import Simulator
from sandbox._store import Store
from gateway.sandbox_sources import sharepoint_settings as sandbox_settings
from sandbox.sharepoint import create_sharepoint_simulator
from tests.sharepoint._data import CUSTOMERS, DOCUMENTS


@pytest.fixture
def sp_store() -> Store:
    store = Store(None)
    store.collection("customers").put_many((c["id"], c) for c in CUSTOMERS)
    store.collection("documents").put_many((d["id"], d) for d in DOCUMENTS)
    return store


@pytest.fixture
def sp_sim(sp_store: Store, credentials: SandboxCredentials) -> Simulator:
    return create_sharepoint_simulator(sp_store, credentials)


@pytest.fixture
def sp_server(sp_sim: Simulator, serve: Callable[[ASGIApp], ThreadedServer]) -> ThreadedServer:
    return serve(sp_sim.app)


@pytest.fixture
def token_url(sp_server: ThreadedServer, credentials: SandboxCredentials) -> str:
    return f"{sp_server.url}/{credentials.sharepoint_tenant}/oauth2/v2.0/token"


def get_token(token_url: str, credentials: SandboxCredentials) -> str:
    resp = httpx.post(token_url, data={
        "client_id": credentials.sharepoint_client_id,
        "client_secret": credentials.sharepoint_client_secret,
        "scope": "https://graph.microsoft.com/.default",
        "grant_type": "client_credentials",
    })
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


@pytest.fixture
def graph(sp_server: ThreadedServer, token_url: str, credentials: SandboxCredentials) -> Iterator[httpx.Client]:
    """A plain httpx client on the simulator's Graph root, with a valid bearer token."""
    token = get_token(token_url, credentials)
    with httpx.Client(base_url=f"{sp_server.url}/v1.0", headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
def list_path(credentials: SandboxCredentials) -> str:
    return f"/sites/{credentials.sharepoint_site_id}/lists/Customers"


@pytest.fixture
def sp_settings(sp_server: ThreadedServer, credentials: SandboxCredentials) -> SharePointSettings:
    return sandbox_settings(sp_server.url, credentials)


@pytest.fixture
async def connector(sp_settings: SharePointSettings) -> AsyncIterator[SharePointConnector]:
    conn = SharePointConnector(sp_settings, UpstreamLimits())
    yield conn
    await conn.aclose()


@pytest.fixture
async def per_key_connector(sp_settings: SharePointSettings) -> AsyncIterator[SharePointConnector]:
    """A connector that never joins keys with `or`: one `$batch` sub-request per key."""
    conn = SharePointConnector(sp_settings.model_copy(update={"or_filter_terms": 0}), UpstreamLimits())
    yield conn
    await conn.aclose()


AdminCall = Callable[..., httpx.Response]


@pytest.fixture
def sp_admin(sp_server: ThreadedServer) -> AdminCall:
    """Call the simulator's admin endpoints: `sp_admin("PATCH", "/faults", {...})`."""

    def call(method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        resp = httpx.request(method, f"{sp_server.url}/_admin{path}", json=body)
        resp.raise_for_status()
        return resp

    return call
