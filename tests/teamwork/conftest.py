"""A small Teamwork site (owner company, customers, projects) served over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from connectors import UpstreamLimits
from connectors.teamwork import TeamworkConnector
from sandbox._credentials import SandboxCredentials
from sandbox._server import ThreadedServer
from sandbox._simulator import Simulator
from sandbox._store import Store
from gateway.sandbox_sources import teamwork_settings as sandbox_settings
from sandbox.teamwork import create_teamwork_simulator

CUSTOMERS = 12  # ids 2..13; id 1 is the site owner


def make_company(company_id: int, **overrides: Any) -> dict[str, Any]:
    """A stored company (STORAGE.md shape) with distinct, searchable values."""
    record: dict[str, Any] = {
        "id": company_id, "name": f"Company {company_id:02d} Ltd", "addressOne": f"{company_id} Main St",
        "addressTwo": "", "city": "Springfield", "state": "IL", "zip": f"627{company_id:02d}",
        "countryCode": "US", "phone": f"(217) 555-01{company_id:02d}", "fax": "",
        "website": f"https://c{company_id}.example.com", "emailOne": f"info{company_id}@c{company_id}.example.com",
        "emailTwo": f"billing{company_id}@c{company_id}.example.com", "emailThree": "", "cid": f"CUST-{company_id:04d}",
        "companyNameUrl": f"company{company_id:02d}ltd", "logoUrl": "", "isOwner": False, "canSeePrivate": True,
        "status": "active", "tags": [], "industry": None,
        "createdAt": "2024-03-02T10:00:00Z", "updatedAt": "2024-05-20T09:40:12Z",
    }
    record.update(overrides)
    return record


def make_project(project_id: int, company_id: int, **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": project_id, "name": f"Project {project_id}", "description": "", "status": "active",
        "subStatus": "current", "companyId": company_id, "ownerId": 238860, "ownerName": "Brenda Bates",
        "startDate": "20240301", "endDate": "20240630",
        "createdAt": "2024-03-02T10:00:00Z", "updatedAt": "2024-05-20T09:40:12Z",
    }
    record.update(overrides)
    return record


def seed(store: Store) -> Store:
    owner = make_company(1, name="Our Agency", emailOne="hello@agency.example.com", isOwner=True)
    store.collection("companies").put_many(
        [(1, owner), *((i, make_company(i)) for i in range(2, 2 + CUSTOMERS))]
    )
    store.collection("projects").put_many([
        (100, make_project(100, 2)),
        (101, make_project(101, 2, status="archived", subStatus="completed", updatedAt="2024-01-10T08:00:00Z")),
        (102, make_project(102, 3, startDate="", endDate="")),
        (103, make_project(103, 1)),
    ])
    return store


@pytest.fixture
def store() -> Store:
    return seed(Store(None))


@pytest.fixture
def simulator(store: Store, credentials: SandboxCredentials) -> Simulator:
    return create_teamwork_simulator(store, credentials)


@pytest.fixture
def server(simulator: Simulator, serve: Callable[..., ThreadedServer]) -> ThreadedServer:
    return serve(simulator.app)


@pytest.fixture
def api(server: ThreadedServer, credentials: SandboxCredentials) -> Iterator[httpx.Client]:
    """A plain HTTP client with the sandbox API key (Basic auth, password "X")."""
    with httpx.Client(base_url=server.url, auth=(credentials.teamwork_api_key, "X"), timeout=10) as client:
        yield client


@pytest.fixture
def admin(server: ThreadedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture
async def make_connector(
    server: ThreadedServer, credentials: SandboxCredentials
) -> AsyncIterator[Callable[..., TeamworkConnector]]:
    """Connectors against the served simulator (settings from `sandbox_settings`), closed afterwards."""
    made: list[TeamworkConnector] = []

    def make(page_size: int = 500, limits: UpstreamLimits | None = None, **kw: Any) -> TeamworkConnector:
        settings = sandbox_settings(server.url, credentials).model_copy(update={"page_size": page_size})
        connector = TeamworkConnector(settings, limits or UpstreamLimits(timeout_s=5), **kw)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        await connector.aclose()


@pytest.fixture
def connector(make_connector: Callable[..., TeamworkConnector]) -> TeamworkConnector:
    return make_connector()


@pytest.fixture
def company() -> Callable[..., dict[str, Any]]:
    """Factory of stored companies (STORAGE.md shape)."""
    return make_company
