"""Changes made directly in the systems reach the gateway: over real HTTP, simulators and gateway on 127.0.0.1.

Two stacks: one with webhooks on (the gateway registers at the simulators, which then post
their signed notifications), one with webhooks off and a short poll interval (CDC, delta,
Teamwork scan). Out-of-band changes go through the systems' own APIs, as a person or
another integration would make them; the simulators' request counters prove what the
gateway did or did not write.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from connectors import RecordChanges, SourceRecord, SystemName
from gateway.app import create_app
from gateway.sources import close_connectors, effective_sources, open_connectors
from sandbox._server import ThreadedServer
from sandbox.runtime import credentials_for
from tests.gateway.conftest import Stack, start_stack
from xref import Stewardship, SyncState, XrefService, create_engine, create_sessions

#: The poll interval of the polling stack (acceptance 1: visible "within one poll interval").
POLL_S = 1.0
#: What one poll takes on top of the interval here (one CDC call, one invalidation), generously.
POLL_WORK_S = 1.0

BILLING = "query Billing($id: ID!) { customer(id: $id) { id billing { id address { line1 } } } }"
LINKS = "query Links { customers(first: 100) { edges { node { id name email sourceRecords { system id } } } } }"
UPDATE = """
mutation Update($id: ID!, $input: CustomerInput!) {
  updateCustomer(id: $id, input: $input) { __typename ... on CustomerUpdated { outcomes { system status } } }
}
"""


def _stack(tmp_path_factory: pytest.TempPathFactory, name: str, **overrides: Any) -> Iterator[tuple[Stack, list[ThreadedServer]]]:
    built, servers = start_stack(tmp_path_factory.mktemp(name), customers=40, **overrides)
    yield built, servers
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Webhooks on, polling off: only the systems' notifications tell the gateway."""
    for built, _ in _stack(tmp_path_factory, "c360-hooks", webhooks={"enabled": True}):
        wait_until(lambda: registered(built), timeout_s=30)
        yield built


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, list[ThreadedServer]]]:
    """Webhooks off, polling every POLL_S."""
    yield from _stack(tmp_path_factory, "c360-polls", sync={"poll_interval_s": POLL_S, "safety_margin_s": 2.0})


# --- helpers ------------------------------------------------------------------------------------------


def wait_until(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"condition not met within {timeout_s}s"
        time.sleep(0.05)


def gql(stack: Stack, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(stack.graphql_url, json={"query": query, "variables": variables or {}}, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def changes(stack: Stack) -> dict[str, int]:
    """What the gateway's change handling has done so far (counts, from /healthz)."""
    body: dict[str, Any] = httpx.get(f"{stack.gateway_url}/healthz", timeout=10).json()
    return body["changes"]


def settled(stack: Stack) -> bool:
    """No webhook waiting in any simulator and nothing queued in the gateway."""
    pending = sum(httpx.get(f"{url}/_admin/deliveries", timeout=10).json()["pending"]
                  for url in stack.simulator_urls.values())
    return pending == 0 and changes(stack)["queued"] == 0


def index_state(stack: Stack, read: Callable[[XrefService, SyncState], Any]) -> Any:
    """Something read straight from the gateway's xref database (its own SQLite file)."""
    async def run() -> Any:
        engine = create_engine(stack.settings.resolved_database_url)
        try:
            sessions = create_sessions(engine)
            return await read(XrefService(sessions), SyncState(sessions))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def registered(stack: Stack) -> bool:
    """The gateway's startup work is done: subscription, Teamwork hooks, QuickBooks endpoint, feed checkpoints."""
    async def names(_: XrefService, state: SyncState) -> set[str]:
        wanted = ("sharepoint:subscription", "sharepoint:delta", "quickbooks:cdc", "teamwork:scan")
        return {n for n in wanted if await state.checkpoint(n) is not None}

    qbo = httpx.get(f"{stack.simulator_urls['quickbooks']}/_admin/webhooks", timeout=10).json()
    credentials = credentials_for(stack.settings.data_dir)
    hooks = httpx.get(f"{stack.simulator_urls['teamwork']}/webhooks.json", auth=(credentials.teamwork_api_key, "X"),
                      timeout=10).json()["webhooks"]
    return (
        len(index_state(stack, names)) == 4
        and qbo.get("url") == f"{stack.gateway_url}/webhooks/quickbooks"
        and {h["event"] for h in hooks if h["url"] == f"{stack.gateway_url}/webhooks/teamwork"} >= {
            "COMPANY.CREATED", "COMPANY.UPDATED", "COMPANY.DELETED"}
    )


_taken: set[str] = set()


def customer_with(stack: Stack, *systems: str, without: str | None = None) -> dict[str, Any]:
    """A customer linked in `systems` (and not in `without`) that no other test here used."""
    for edge in gql(stack, LINKS)["customers"]["edges"]:
        node = edge["node"]
        held = [r["system"] for r in node["sourceRecords"]]
        if node["id"] in _taken or any(held.count(s) != 1 for s in systems) or (without and without in held):
            continue
        _taken.add(node["id"])
        node["records"] = {SystemName(r["system"].lower()): r["id"] for r in node["sourceRecords"]}
        return node
    raise AssertionError(f"no unused customer linked in {systems}")


def billing_line1(stack: Stack, customer_id: str) -> str | None:
    billing = gql(stack, BILLING, {"id": customer_id})["customer"]["billing"]
    return billing[0]["address"]["line1"] if billing and billing[0]["address"] else None


def edit_in_quickbooks(stack: Stack, record_id: str, line1: str) -> None:
    """A person changes the billing address in the QuickBooks UI (no SyncToken; QuickBooks notifies)."""
    response = httpx.patch(f"{stack.simulator_urls['quickbooks']}/_admin/customers/{record_id}", timeout=10,
                           json={"BillAddr": {"Line1": line1, "City": "Tacoma", "CountrySubDivisionCode": "WA",
                                              "PostalCode": "98402", "Country": "USA"}})
    response.raise_for_status()


def in_system(stack: Stack, system: SystemName, make: Callable[[Any], Any]) -> Any:
    """A call through the system's own API with its own credentials (another integration, not the gateway)."""
    async def run() -> Any:
        connectors = open_connectors(effective_sources(stack.settings))
        try:
            return await make(connectors[system])
        finally:
            await close_connectors(connectors)

    return asyncio.run(run())


def record_writes(stack: Stack) -> dict[str, int]:
    """Per simulator, requests that create or change a customer record (its own counters)."""
    def is_write(call: str) -> bool:
        method, _, path = call.partition(" ")
        return (method in ("PATCH", "PUT") and ("/items/" in path or "/companies/" in path)) or (
            method == "POST" and (path.endswith("/items") or path.endswith("/companies.json")
                                  or path.endswith("/customer")))

    return {name: sum(n for call, n in httpx.get(f"{url}/_admin/stats", timeout=10).json()["calls"].items()
                      if is_write(call))
            for name, url in stack.simulator_urls.items()}


# --- webhooks on ---------------------------------------------------------------------------------------


def test_an_address_changed_in_quickbooks_is_visible_within_2_seconds_with_webhooks(hooked: Stack) -> None:
    customer = customer_with(hooked, "QUICKBOOKS")
    assert billing_line1(hooked, customer["id"]) is not None  # read once: the gateway now caches it
    line1 = f"{uuid.uuid4().hex[:6]} Harbour Road"

    edit_in_quickbooks(hooked, customer["records"][SystemName.QUICKBOOKS], line1)

    wait_until(lambda: billing_line1(hooked, customer["id"]) == line1, timeout_s=2.0)


def test_a_company_created_in_teamwork_with_a_name_variant_is_placed_without_a_bulk_run(hooked: Stack) -> None:
    customer = customer_with(hooked, "SHAREPOINT", without="TEAMWORK")
    assert customer["name"] and customer["email"]
    variant = customer["name"].upper()  # the same company, typed by someone else
    created: SourceRecord = in_system(hooked, SystemName.TEAMWORK,
                                      lambda c: c.create(RecordChanges(name=variant, email=customer["email"])))

    async def placement(xref: XrefService, _: SyncState) -> tuple[str | None, set[Any]]:
        queue = await Stewardship(xref.sessions).review_queue(first=100)
        pairs = {item.pair for item in queue.items}
        return await xref.customer_for(SystemName.TEAMWORK, created.id), pairs

    def placed() -> bool:
        owner, pairs = index_state(hooked, placement)
        mine = {(SystemName(s), r) for s, r in customer["records"].items()}
        in_review = any((SystemName.TEAMWORK, created.id) in pair and set(pair) & mine for pair in pairs)
        return owner == customer["id"] or in_review

    wait_until(placed, timeout_s=15)


def test_the_echo_of_a_gateway_write_causes_no_new_write_and_no_match(hooked: Stack) -> None:
    customer = customer_with(hooked, "SHAREPOINT", "TEAMWORK", "QUICKBOOKS")
    wait_until(lambda: settled(hooked))
    before, writes_before = changes(hooked), record_writes(hooked)

    answer = gql(hooked, UPDATE, {"id": customer["id"], "input": {"phone": "+1 503 555 0142"}})["updateCustomer"]

    assert answer["__typename"] == "CustomerUpdated", answer
    assert {o["status"] for o in answer["outcomes"]} == {"APPLIED"}
    written = record_writes(hooked)
    assert written == {name: writes_before[name] + 1 for name in written}  # the mutation's own writes
    # Each system notifies about the write; the gateway reads the record, sees its own version, stops.
    wait_until(lambda: changes(hooked)["echoes"] >= before["echoes"] + 3 and settled(hooked))
    after = changes(hooked)
    assert record_writes(hooked) == written  # the simulators' request counters: no write followed the echoes
    for effect in ("invalidated", "linked", "new", "kept", "review", "deleted"):
        assert after[effect] == before[effect], effect


def test_a_forged_webhook_gets_401_and_a_repeated_one_has_one_effect(hooked: Stack) -> None:
    customer = customer_with(hooked, "QUICKBOOKS")
    credentials = credentials_for(hooked.settings.data_dir)
    body = json.dumps({"eventNotifications": [{"realmId": credentials.quickbooks_realm_id, "dataChangeEvent": {
        "entities": [{"name": "Customer", "id": customer["records"][SystemName.QUICKBOOKS], "operation": "Update",
                      "lastUpdated": "2026-01-02T03:04:05.000Z"}]}}]}).encode()
    good = base64.b64encode(hmac.new(credentials.quickbooks_webhook_verifier.encode(), body, hashlib.sha256).digest())
    forged = base64.b64encode(hmac.new(b"guessed", body, hashlib.sha256).digest())
    url = f"{hooked.gateway_url}/webhooks/quickbooks"
    wait_until(lambda: settled(hooked))
    before = changes(hooked)

    refused = httpx.post(url, content=body, headers={"intuit-signature": forged.decode()}, timeout=10)
    wait_until(lambda: settled(hooked))
    assert refused.status_code == 401
    assert changes(hooked) == before  # no effect at all

    first = httpx.post(url, content=body, headers={"intuit-signature": good.decode()}, timeout=10)
    wait_until(lambda: settled(hooked) and changes(hooked)["received"] > before["received"])
    once = changes(hooked)
    again = httpx.post(url, content=body, headers={"intuit-signature": good.decode()}, timeout=10)
    wait_until(lambda: settled(hooked) and changes(hooked)["received"] > once["received"])
    twice = changes(hooked)

    assert first.status_code == again.status_code == 200
    assert once["invalidated"] == before["invalidated"] + 1
    assert twice["duplicates"] == once["duplicates"] + 1
    assert {k: v for k, v in twice.items() if k not in ("received", "duplicates")} == {
        k: v for k, v in once.items() if k not in ("received", "duplicates")}


# --- webhooks off, polling ------------------------------------------------------------------------------


def test_an_address_changed_in_quickbooks_is_visible_within_one_poll_interval_without_webhooks(
    polled: tuple[Stack, list[ThreadedServer]],
) -> None:
    stack, _ = polled
    assert httpx.get(f"{stack.simulator_urls['quickbooks']}/_admin/webhooks").json()["url"] is None
    customer = customer_with(stack, "QUICKBOOKS")
    assert billing_line1(stack, customer["id"]) is not None
    line1 = f"{uuid.uuid4().hex[:6]} Polling Lane"

    edit_in_quickbooks(stack, customer["records"][SystemName.QUICKBOOKS], line1)

    wait_until(lambda: billing_line1(stack, customer["id"]) == line1, timeout_s=POLL_S + POLL_WORK_S)


def test_polling_resumes_from_its_checkpoint_after_a_gateway_restart(polled: tuple[Stack, list[ThreadedServer]]) -> None:
    stack, servers = polled
    wait_until(lambda: index_state(stack, lambda _, s: s.checkpoint("teamwork:scan")) is not None)
    servers[0].stop()  # the gateway goes away ...
    created: SourceRecord = in_system(  # ... a company is added meanwhile ...
        stack, SystemName.TEAMWORK, lambda c: c.create(RecordChanges(name=f"Restart Tiles {uuid.uuid4().hex[:6]}")))

    async def owner(xref: XrefService, _: SyncState) -> str | None:
        return await xref.customer_for(SystemName.TEAMWORK, created.id)

    assert index_state(stack, owner) is None
    servers[0] = ThreadedServer(create_app(stack.settings)).start()  # ... and a new process starts
    stack.gateway_url = servers[0].url

    # Its first poll continues from the stored checkpoint (a fresh one would start from "now" and miss it).
    wait_until(lambda: index_state(stack, owner) is not None)
