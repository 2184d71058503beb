"""Fixtures for the SharePoint simulator and connector: a small seeded site served on 127.0.0.1."""

from __future__ import annotations

import uuid
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
from sandbox.sharepoint import create_sharepoint_simulator, sandbox_settings

MARK = {"id": "6", "email": "mark@contoso.com", "displayName": "Mark Matkowski"}


def make_item(item_id: int, fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One item in the stored shape of sandbox/STORAGE.md."""
    return {
        "id": item_id,
        "guid": str(uuid.UUID(int=item_id + 0x5D2F1B5C8C8E4B6E9A532A0C6F1D0000)),
        "version": 3,
        "created": "2024-03-01T14:05:12Z",
        "modified": f"2024-05-{10 + item_id % 20:02d}T09:31:44Z",
        "createdBy": MARK,
        "modifiedBy": MARK,
        "fields": fields,
        **extra,
    }


CUSTOMERS: list[dict[str, Any]] = [
    make_item(1, {"Title": "Bill's Windsurf Shop", "StreetAddress1": "12 Ocean Dr.", "StreetAddress2": "Suite 4",
                  "City": "Half Moon Bay", "State": "CA", "Zip": "94213", "EmailPrimary": "surf@example.com",
                  "Phone": "(415) 444-6538", "CustomerStatus": "active"}),
    make_item(2, {"Title": "Amy's Bird Sanctuary", "City": "Bayshore", "State": "CA",
                  "EmailPrimary": "Birds@Example.com", "Phone": "(650) 555-3311", "CustomerStatus": "lead"}),
    make_item(3, {"Title": "Billy Bob's Barbecue", "EmailPrimary": "bbq@example.com", "CustomerStatus": "active"}),
    make_item(4, {"Title": "Cool Cars", "Phone": "(415) 555-9933", "CustomerStatus": "lead", "Zip": ""}),
    make_item(5, {"Title": "Dukes Basketball Camp", "City": "Middlefield", "CustomerStatus": "active"}),
]

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOCUMENTS: list[dict[str, Any]] = [
    make_item(1, {"FileLeafRef": "Proposal - Bill's Windsurf Shop.docx", "DocumentType": "proposal",
                  "CustomerLookupId": "1"}, size=48211, mimeType=DOCX),
    make_item(2, {"FileLeafRef": "SOW - Bill's Windsurf Shop.pdf", "DocumentType": "sow",
                  "CustomerLookupId": "1"}, size=1200, mimeType="application/pdf"),
    make_item(3, {"FileLeafRef": "Contract - Amy.pdf", "DocumentType": "contract",
                  "CustomerLookupId": "2"}, size=999, mimeType="application/pdf"),
]


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


AdminCall = Callable[..., httpx.Response]


@pytest.fixture
def sp_admin(sp_server: ThreadedServer) -> AdminCall:
    """Call the simulator's admin endpoints: `sp_admin("PATCH", "/faults", {...})`."""

    def call(method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        resp = httpx.request(method, f"{sp_server.url}/_admin{path}", json=body)
        resp.raise_for_status()
        return resp

    return call
