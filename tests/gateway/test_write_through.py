"""updateCustomer over real HTTP: the gateway and the three simulators on 127.0.0.1.

Every test asserts the final state in the simulators themselves (read back through each
system's own API, in its own field names), not only the mutation's answer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from connectors import SourceRecord, SystemName
from gateway.app import create_app
from gateway.sources import close_connectors, effective_sources, open_connectors
from sandbox._server import ThreadedServer
from tests.gateway.conftest import Stack, start_stack

UPDATE = """
mutation Update($id: ID!, $input: CustomerInput!, $key: String) {
  updateCustomer(id: $id, input: $input, idempotencyKey: $key) {
    __typename
    ... on CustomerUpdated { replayed customer { id address { line1 city state postalCode } }
                             outcomes { system recordId status attributes code outboxId } }
    ... on InvalidInput { message problems { path code message system } }
    ... on ConflictError { message attribute system ours theirs outcomes { system status } }
    ... on WriteFailed { message outcomes { system status code error } }
    ... on CustomerNotFound { message }
    ... on IdempotencyKeyReused { message }
  }
}
"""
LINKS = "query Links { customers(first: 100) { edges { node { id sourceRecords { system id } } } } }"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, list[ThreadedServer]]]:
    built, servers = start_stack(
        tmp_path_factory.mktemp("c360-writes"), customers=40,
        outbox={"interval_s": 0.1, "base_delay_s": 0.2, "max_delay_s": 0.5},
    )
    yield built, servers
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def stack(running: tuple[Stack, list[ThreadedServer]]) -> Stack:
    return running[0]


def gql(stack: Stack, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(stack.graphql_url, json={"query": query, "variables": variables}, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def update(stack: Stack, customer_id: str, values: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    return gql(stack, UPDATE, {"id": customer_id, "input": values, "key": key})["updateCustomer"]


_taken: set[str] = set()


def full_customer(stack: Stack) -> tuple[str, dict[SystemName, str]]:
    """A customer linked to exactly one record in every system, not used by another test."""
    for edge in gql(stack, LINKS, {})["customers"]["edges"]:
        node = edge["node"]
        systems = [r["system"] for r in node["sourceRecords"]]
        if sorted(systems) == ["QUICKBOOKS", "SHAREPOINT", "TEAMWORK"] and node["id"] not in _taken:
            _taken.add(node["id"])
            return node["id"], {SystemName(r["system"].lower()): r["id"] for r in node["sourceRecords"]}
    raise AssertionError("no customer linked in all three systems")


def raw_records(stack: Stack, records: dict[SystemName, str]) -> dict[SystemName, SourceRecord]:
    """Each record as its system holds it now, read straight from the simulator (no gateway, no cache)."""
    async def read() -> dict[SystemName, SourceRecord]:
        connectors = open_connectors(effective_sources(stack.settings))
        try:
            return {system: await connectors[system].fetch(rid) for system, rid in records.items()}
        finally:
            await close_connectors(connectors)

    return asyncio.run(read())


def calls(stack: Stack) -> dict[str, int]:
    return {name: httpx.get(f"{url}/_admin/stats").json()["total"] for name, url in stack.simulator_urls.items()}


def faults(stack: Stack, system: str, **settings: Any) -> None:
    httpx.put(f"{stack.simulator_urls[system]}/_admin/faults", json=settings).raise_for_status()


def wait_until(check: Any, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


NEW_ADDRESS = {"line1": "200 Harbour Street", "line2": "Suite 9", "city": "Portland", "state": "OR",
               "postalCode": "97204", "country": "US"}


def test_an_address_change_reaches_all_three_systems_in_their_own_formats(stack: Stack) -> None:
    customer, records = full_customer(stack)

    answer = update(stack, customer, {"address": NEW_ADDRESS})

    assert answer["__typename"] == "CustomerUpdated", answer
    assert sorted((o["system"], o["status"]) for o in answer["outcomes"]) == [
        ("QUICKBOOKS", "APPLIED"), ("SHAREPOINT", "APPLIED"), ("TEAMWORK", "APPLIED")]
    assert answer["customer"]["address"]["city"] == "Portland"  # the view reads the new value, not a stale cache
    raw = {system: record.raw for system, record in raw_records(stack, records).items()}
    quickbooks = raw[SystemName.QUICKBOOKS]["BillAddr"]
    assert (quickbooks["Line1"], quickbooks["Line2"], quickbooks["City"]) == ("200 Harbour Street", "Suite 9", "Portland")
    assert (quickbooks["CountrySubDivisionCode"], quickbooks["PostalCode"]) == ("OR", "97204")
    sharepoint = raw[SystemName.SHAREPOINT].get("fields", raw[SystemName.SHAREPOINT])
    assert (sharepoint["StreetAddress1"], sharepoint["StreetAddress2"], sharepoint["City"]) == (
        "200 Harbour Street", "Suite 9", "Portland")
    assert (sharepoint["State"], sharepoint["Zip"]) == ("OR", "97204")
    teamwork = raw[SystemName.TEAMWORK]
    assert (teamwork["addressOne"], teamwork["addressTwo"], teamwork["city"]) == ("200 Harbour Street", "Suite 9", "Portland")
    assert (teamwork["state"], teamwork["zip"]) == ("OR", "97204")


def test_invalid_input_lists_every_problem_and_no_system_is_called(stack: Stack) -> None:
    customer, _ = full_customer(stack)
    before = calls(stack)

    answer = update(stack, customer, {"email": "not-an-email", "phone": "12", "name": "",
                                      "address": {"line1": "1 Main St", "city": "Austin", "state": "ZZ",
                                                  "postalCode": "ABCDE", "country": "US"}})

    assert answer["__typename"] == "InvalidInput"
    paths = {tuple(p["path"]) for p in answer["problems"]}
    assert {("input", "email"), ("input", "phone"), ("input", "name"), ("input", "address", "state"),
            ("input", "address", "postalCode")} <= paths
    assert all(p["message"] for p in answer["problems"])
    assert calls(stack) == before  # the simulators' own counters: not one request reached a system


def test_the_same_idempotency_key_writes_once_also_when_sent_concurrently(stack: Stack) -> None:
    customer, records = full_customer(stack)
    key = f"k-{uuid.uuid4()}"
    values = {"phone": "+1 503 555 0199"}
    before = raw_records(stack, records)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: update(stack, customer, values, key), range(4)))
    again = update(stack, customer, values, key)

    assert all(a["__typename"] == "CustomerUpdated" for a in [*answers, again]), answers
    assert sum(not a["replayed"] for a in answers) == 1  # one request wrote; the others got its answer
    assert again["replayed"] is True
    assert {tuple(sorted((o["system"], o["status"]) for o in a["outcomes"])) for a in answers} == {
        tuple(sorted((o["system"], o["status"]) for o in again["outcomes"]))}
    after = raw_records(stack, records)
    # One write per system: each version token moved exactly once (QuickBooks SyncToken counts them).
    assert int(after[SystemName.QUICKBOOKS].version or 0) == int(before[SystemName.QUICKBOOKS].version or 0) + 1
    assert after[SystemName.SHAREPOINT].phone == after[SystemName.QUICKBOOKS].phone == "+1 503-555-0199"

    reused = update(stack, customer, {"phone": "+1 503 555 0100"}, key)
    assert reused["__typename"] == "IdempotencyKeyReused"


def test_an_outage_leaves_the_system_pending_and_the_worker_applies_it_when_it_ends(stack: Stack) -> None:
    customer, records = full_customer(stack)
    faults(stack, "quickbooks", outage=True)
    try:
        answer = update(stack, customer, {"email": "billing@harbour-example.com"})
        assert answer["__typename"] == "CustomerUpdated", answer
        status = {o["system"]: o["status"] for o in answer["outcomes"]}
        assert status == {"QUICKBOOKS": "PENDING", "SHAREPOINT": "APPLIED", "TEAMWORK": "APPLIED"}
        assert raw_records(stack, {SystemName.SHAREPOINT: records[SystemName.SHAREPOINT]})[
            SystemName.SHAREPOINT].email == "billing@harbour-example.com"
    finally:
        faults(stack, "quickbooks", outage=False)

    def quickbooks_has_it() -> bool:
        return raw_records(stack, {SystemName.QUICKBOOKS: records[SystemName.QUICKBOOKS]})[
            SystemName.QUICKBOOKS].email == "billing@harbour-example.com"

    wait_until(quickbooks_has_it)


def test_a_permanent_failure_in_teamwork_puts_the_other_systems_back(stack: Stack) -> None:
    customer, records = full_customer(stack)
    before = raw_records(stack, records)
    # Someone deleted the company in Teamwork itself: a write there fails for good (404).
    stack.simulators["teamwork"].store.collection("companies").delete(int(records[SystemName.TEAMWORK]))

    answer = update(stack, customer, {"name": "Harbour Freight Partners", "email": "ops@harbour-example.com"})

    assert answer["__typename"] == "WriteFailed", answer
    status = {o["system"]: o["status"] for o in answer["outcomes"]}
    assert status == {"TEAMWORK": "FAILED", "QUICKBOOKS": "COMPENSATED", "SHAREPOINT": "COMPENSATED"}
    assert "teamwork" in answer["message"]
    after = raw_records(stack, {s: r for s, r in records.items() if s is not SystemName.TEAMWORK})
    for system in (SystemName.QUICKBOOKS, SystemName.SHAREPOINT):
        assert (after[system].name, after[system].email) == (before[system].name, before[system].email), system


def test_a_write_queued_before_a_gateway_restart_is_applied_by_the_next_gateway(
    running: tuple[Stack, list[ThreadedServer]],
) -> None:
    stack, servers = running
    customer, records = full_customer(stack)
    faults(stack, "quickbooks", outage=True)
    try:
        answer = update(stack, customer, {"website": "https://harbour-restart.example"})
        assert {o["system"]: o["status"] for o in answer["outcomes"]}["QUICKBOOKS"] == "PENDING", answer
        servers[0].stop()  # the gateway goes away with the write still owed to QuickBooks
    finally:
        faults(stack, "quickbooks", outage=False)
    assert raw_records(stack, {SystemName.QUICKBOOKS: records[SystemName.QUICKBOOKS]})[
        SystemName.QUICKBOOKS].website != "https://harbour-restart.example"

    servers[0] = ThreadedServer(create_app(stack.settings)).start()  # a new process on the same database
    stack.gateway_url = servers[0].url

    def quickbooks_has_it() -> bool:
        return raw_records(stack, {SystemName.QUICKBOOKS: records[SystemName.QUICKBOOKS]})[
            SystemName.QUICKBOOKS].website == "https://harbour-restart.example"

    wait_until(quickbooks_has_it)
