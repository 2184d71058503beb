"""1,000 updates while the simulators fail 10% of calls, throttle, and QuickBooks goes down for 5 s.

Afterwards every system holds the last written value of every customer, the outbox is
empty (nothing dead either), and no record was created. Real HTTP throughout.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from connectors import SystemName
from tests.gateway.conftest import Stack, start_stack
from tests.gateway.test_write_through import UPDATE, gql, raw_records
from xref import Outbox, create_engine, create_sessions

pytestmark = pytest.mark.slow

ROUNDS = 20
CUSTOMERS = 50
CONCURRENCY = 10


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    built, servers = start_stack(
        tmp_path_factory.mktemp("c360-write-faults"), customers=110,
        outbox={"interval_s": 0.1, "base_delay_s": 0.2, "max_delay_s": 1.0, "max_attempts": 200},
    )
    yield built
    for server in servers:
        server.stop()


def _customers(stack: Stack) -> dict[str, dict[SystemName, str]]:
    found: dict[str, dict[SystemName, str]] = {}
    after = None
    while True:
        page = gql(stack, "query P($after: String) { customers(first: 100, after: $after) { pageInfo { hasNextPage "
                          "endCursor } edges { node { id sourceRecords { system id } } } } }", {"after": after})
        for edge in page["customers"]["edges"]:
            records = edge["node"]["sourceRecords"]
            if sorted(r["system"] for r in records) == ["QUICKBOOKS", "SHAREPOINT", "TEAMWORK"]:
                found[edge["node"]["id"]] = {SystemName(r["system"].lower()): r["id"] for r in records}
        if not page["customers"]["pageInfo"]["hasNextPage"]:
            return found
        after = page["customers"]["pageInfo"]["endCursor"]


def _faults(stack: Stack, system: str, **settings: Any) -> None:
    httpx.patch(f"{stack.simulator_urls[system]}/_admin/faults", json=settings).raise_for_status()


def _counts(stack: Stack) -> dict[str, int]:
    return {name: sum(1 for _ in sim.store.collection(coll).all()) for name, sim, coll in (
        ("sharepoint", stack.simulators["sharepoint"], "customers"),
        ("teamwork", stack.simulators["teamwork"], "companies"),
        ("quickbooks", stack.simulators["quickbooks"], "customers"))}


def _outbox_counts(stack: Stack) -> dict[str, int]:
    async def read() -> dict[str, int]:
        engine = create_engine(stack.settings.resolved_database_url)
        try:
            return dict(await Outbox(create_sessions(engine)).counts())
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_a_thousand_updates_through_errors_throttling_and_an_outage_end_consistent(stack: Stack) -> None:
    customers = dict(list(_customers(stack).items())[:CUSTOMERS])
    assert len(customers) == CUSTOMERS, f"only {len(customers)} customers are linked in all three systems"
    records_before = _counts(stack)
    for system in ("sharepoint", "teamwork", "quickbooks"):
        _faults(stack, system, error_rate=0.1, rate_limit_per_minute=80, rate_window_s=1.0, seed=7)

    results: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    last: dict[str, dict[str, Any]] = {}

    def send(customer: str, round_no: int) -> None:
        values = {"name": f"Fault Co {customer[-6:]} r{round_no}", "address": {
            "line1": f"{round_no} Fault Street", "city": "Portland", "state": "OR", "postalCode": "97204",
            "country": "US"}}
        answer = gql(stack, UPDATE, {"id": customer, "input": values, "key": f"{customer}-{round_no}"})["updateCustomer"]
        results[answer["__typename"]] += 1
        for outcome in answer.get("outcomes") or []:
            statuses[outcome["status"]] += 1
        if answer["__typename"] == "CustomerUpdated":
            last[customer] = values

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        for round_no in range(ROUNDS):
            if round_no == ROUNDS // 2:
                _faults(stack, "quickbooks", outage=True, outage_for_s=5.0)
            # One update per customer per round: a customer's updates are in order, customers in parallel.
            list(pool.map(lambda c: send(c, round_no), customers))
    sent_s = time.monotonic() - started
    for system in ("sharepoint", "teamwork", "quickbooks"):
        _faults(stack, system, error_rate=0.0, rate_limit_per_minute=None, outage=False)

    deadline = time.monotonic() + 120
    while (counts := _outbox_counts(stack))["pending"]:
        assert time.monotonic() < deadline, f"the outbox did not drain: {counts}"
        time.sleep(0.5)
    drained_s = time.monotonic() - started - sent_s

    print(f"\n{sum(results.values())} updates in {sent_s:.1f}s, outbox drained {drained_s:.1f}s later; "
          f"results {dict(results)}; per-system outcomes {dict(statuses)}; outbox {counts}")
    assert sum(results.values()) == ROUNDS * CUSTOMERS
    assert counts["dead"] == 0
    assert statuses["PENDING"] > 0, "the faults never made a write wait: the test did not test the outbox"
    assert set(results) <= {"CustomerUpdated"}, results  # transient faults never fail a mutation
    mismatches = []
    for customer, records in customers.items():
        expected = last[customer]
        held = raw_records(stack, records)
        for system, record in held.items():
            line1 = record.address.line1 if record.address else None
            if (record.name, line1) != (expected["name"], expected["address"]["line1"]):
                mismatches.append((customer, system.value, record.name, line1, expected["name"]))
    assert mismatches == [], f"{len(mismatches)} records do not hold the last written value: {mismatches[:5]}"
    assert _counts(stack) == records_before  # no record was created (or lost)
