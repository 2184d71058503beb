"""API keys: a gateway with keys refuses GraphQL operations without one, and the audit log names the
caller; without keys (the demo) everyone is "anonymous". In-process ASGI over a real SQLite index."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from connectors import SystemName
from gateway.auth import ApiKeys, AuthConfigError, AuthSettings, read_keys_file
from gateway.config import Settings
from resolvers import Services
from resolvers.mutations import WriteServices
from resolvers.ownership import DEFAULT_OWNERSHIP
from resolvers.write_through import WriteThrough
from tests.gateway._asgi import gateway_client
from tests.support.fakes import FakeConnector, make_record
from xref import AuditLog, IdempotencyStore, Outbox, XrefService

SP = SystemName.SHAREPOINT
KEY = "k3y-for-the-ops-console-0123456789"
UPDATE = """mutation($id: ID!) { updateCustomer(id: $id, input: {phone: "(415) 555-0199"}) {
  __typename ... on CustomerUpdated { outcomes { status } } } }"""


class World:
    def __init__(self, services: Services, customer_id: str, crm: FakeConnector, audit: AuditLog) -> None:
        self.services, self.customer_id, self.crm, self.audit = services, customer_id, crm, audit

    async def subjects(self) -> list[str]:
        return [entry.subject for entry in (await self.audit.history(self.customer_id, first=10)).entries]


@pytest.fixture
async def world(write_stores: tuple[XrefService, Outbox, AuditLog]) -> World:
    xref, outbox, audit = write_stores
    crm = FakeConnector(SP, [make_record(SP, "1", name="Acme", phone="(415) 555-0100")])
    writes = WriteServices(write_through=WriteThrough({SP: crm}, outbox, audit),
                           idempotency=IdempotencyStore(xref.sessions), outbox=outbox, audit=audit,
                           ownership=DEFAULT_OWNERSHIP)
    linked = await xref.link_record(SP, "1", None, confidence=1.0, evidence={}, decided_by="test")
    return World(Services(xref=xref, connectors={SP: crm}, writes=writes), linked.customer_id, crm, audit)


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(auth=AuthSettings(api_keys={"ops-console": SecretStr(KEY)}))
    async with gateway_client(settings, world.services) as c:
        yield c


async def _update(client: httpx.AsyncClient, world: World, **headers: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": UPDATE, "variables": {"id": world.customer_id}},
                              headers=headers)


async def test_an_operation_without_a_key_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    for headers in ({}, {"Authorization": "Bearer not-the-key-at-all-000"}, {"Authorization": f"Basic {KEY}"}):
        resp = await _update(client, world, **headers)
        assert resp.status_code == 401 and resp.headers["www-authenticate"].startswith("Bearer")
        [error] = resp.json()["errors"]
        assert error["extensions"]["code"] == "UNAUTHENTICATED" and "Bearer <key>" in error["message"]
        assert KEY not in resp.text
    get = await client.get("/graphql", params={"query": "{ customers(first: 1) { edges { cursor } } }"})
    assert get.status_code == 401  # a GET can run a query too
    assert world.crm.records["1"].phone == "(415) 555-0100" and await world.subjects() == []


async def test_the_audit_log_names_the_caller_of_each_key(client: httpx.AsyncClient, world: World) -> None:
    for headers in ({"Authorization": f"Bearer {KEY}"}, {"X-API-Key": KEY}):
        resp = await _update(client, world, **headers, **{"X-Request-Id": "req-42"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"]["updateCustomer"]["outcomes"] == [{"status": "APPLIED"}]
    assert await world.subjects() == ["ops-console", "ops-console"]
    [entry, _] = (await world.audit.history(world.customer_id, first=10)).entries
    assert entry.request_id == "req-42"


async def test_the_graphiql_page_and_health_stay_open(client: httpx.AsyncClient) -> None:
    assert (await client.get("/graphql", headers={"Accept": "text/html"})).status_code == 200
    assert (await client.get("/healthz")).status_code == 200


async def test_without_keys_everyone_is_anonymous(world: World) -> None:
    async with gateway_client(Settings(), world.services) as client:
        resp = await _update(client, world)
    assert resp.status_code == 200 and await world.subjects() == ["anonymous"]


def test_keys_come_from_a_file_and_bad_ones_are_refused_with_where(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"# subject key\nbilling-sync {KEY}-b\n\nops-console {KEY}\n")
    loaded = ApiKeys.from_settings(AuthSettings(api_keys_file=keys))
    assert (loaded.subject_for(KEY), loaded.subject_for(f"{KEY}-b"), loaded.subject_for("x" * 20)) == (
        "ops-console", "billing-sync", None)
    keys.write_text(f"ops-console {KEY}\nbroken line here\n")
    with pytest.raises(AuthConfigError, match=r"keys:2: expected 'subject key', found 3 words"):
        read_keys_file(keys)
    with pytest.raises(AuthConfigError, match="shorter than 16"):
        ApiKeys({"ops": "short"})
    with pytest.raises(AuthConfigError, match="same API key"):
        ApiKeys({"a": KEY, "b": KEY})
