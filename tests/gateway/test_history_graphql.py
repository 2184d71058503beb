"""`Customer.history` and `Customer.pendingWrites`: the audit log and the outbox, read through GraphQL.

In-process (no HTTP): the gateway's schema over a real index, outbox and audit log on a
temporary SQLite database, and fake connectors that the write-through writes to.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from strawberry.types import ExecutionResult

from connectors import RecordChanges, SystemName
from resolvers import Services, build_context
from resolvers.mutations import WriteServices
from resolvers.ownership import DEFAULT_OWNERSHIP
from resolvers.schema import build_schema
from resolvers.write_through import WriteThrough
from tests.support.fakes import FakeConnector, make_record
from xref import AuditLog, IdempotencyStore, Outbox, OutboxEntry, XrefService, create_engine, create_sessions, upgrade

QB, SP = SystemName.QUICKBOOKS, SystemName.SHAREPOINT
SCHEMA = build_schema()

HISTORY = """
query History($id: ID!, $first: Int!, $after: String) {
  customer(id: $id) {
    history(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { cursor node {
        id at subject mutation mutationId idempotencyKey
        changes { attribute before after }
        outcomes { target status error }
      } }
    }
  }
}
"""

PENDING = """
query Pending($id: ID!) {
  customer(id: $id) {
    pendingWrites { id system recordId action attempts nextAttemptAt lastError createdAt attributes }
  }
}
"""


@dataclass
class World:
    services: Services
    customer_id: str
    mutation_id: str
    pending: list[OutboxEntry]


async def _customer(xref: XrefService, *records: tuple[SystemName, str]) -> str:
    customer_id = None
    for system, record_id in records:
        outcome = await xref.link_record(system, record_id, customer_id, confidence=1.0, evidence={}, decided_by="test")
        customer_id = outcome.customer_id
    assert customer_id is not None
    return customer_id


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'xref.sqlite3'}")
    await upgrade(engine)
    sessions = create_sessions(engine)
    xref, outbox, audit = XrefService(sessions), Outbox(sessions), AuditLog(sessions)
    connectors = {
        SP: FakeConnector(SP, [make_record(SP, "1", name="Acme", email="old@acme.test")]),
        QB: FakeConnector(QB, [make_record(QB, "100", name="Acme Inc", email="ap@acme.test"),
                               make_record(QB, "200", name="Other")]),
    }
    writes = WriteServices(
        write_through=WriteThrough(connectors, outbox, audit), idempotency=IdempotencyStore(sessions),
        outbox=outbox, audit=audit, ownership=DEFAULT_OWNERSHIP,
    )
    acme = await _customer(xref, (SP, "1"), (QB, "100"))
    other = await _customer(xref, (QB, "200"))

    # Three audit entries for Acme, oldest first: a real write-through, the outbox giving up, an address.
    links = (await xref.links_for([acme]))[acme]
    result = await writes.write_through.update(acme, links, RecordChanges(email="new@acme.test"), subject="ann",
                                               idempotency_key="key-1")
    await audit.record(subject="outbox", mutation="outbox", mutation_id="m-2", customer_id=acme,
                       changes=[{"attribute": "phone", "before": None, "after": "+14155550100"}],
                       outcomes={"quickbooks:100": {"status": "DEAD", "error": "quickbooks refused it"}})
    await audit.record(subject="bob", mutation="updateCustomer", mutation_id="m-3", customer_id=acme,
                       changes=[{"attribute": "address", "before": {"sharepoint:1": None},
                                 "after": {"city": "Springfield", "line1": "1 Main St"}}],
                       outcomes={"sharepoint:1": {"status": "PENDING"}})
    await audit.record(subject="ann", mutation="updateCustomer", mutation_id="m-x", customer_id=other,
                       changes=[], outcomes={})

    # Two pending writes for Acme (one already failed once); a dead one and another customer's are not listed.
    first = await outbox.enqueue(mutation_id="m-3", system="sharepoint", action="update", customer_id=acme,
                                 record_id="1", payload={"changes": {"address": {"city": "Springfield"}}})
    first = await outbox.reschedule(first.id, "sharepoint is unavailable: HTTP 503", delay_s=10)
    second = await outbox.enqueue(mutation_id="m-4", system="quickbooks", action="compensate", customer_id=acme,
                                  record_id="100", payload={"changes": {"email": "ap@acme.test", "name": "Acme Inc"}})
    dead = await outbox.enqueue(mutation_id="m-2", system="quickbooks", action="update", customer_id=acme,
                                record_id="100", payload={"changes": {"phone": "+14155550100"}})
    await outbox.dead_letter(dead.id, "refused")
    await outbox.enqueue(mutation_id="m-x", system="quickbooks", action="update", customer_id=other,
                         record_id="200", payload={"changes": {"name": "Other Co"}})

    services = Services(xref=xref, connectors=connectors, max_page_size=5, writes=writes)  # type: ignore[arg-type]
    yield World(services=services, customer_id=acme, mutation_id=result.mutation_id, pending=[second, first])
    await engine.dispose()


async def run(services: Services, query: str, **variables: Any) -> ExecutionResult:
    return await SCHEMA.execute(query, variable_values=variables, context_value=build_context(services))


async def history(world: World, first: int, after: str | None = None) -> dict[str, Any]:
    result = await run(world.services, HISTORY, id=world.customer_id, first=first, after=after)
    assert result.errors is None, result.errors
    assert result.data is not None
    page: dict[str, Any] = result.data["customer"]["history"]
    return page


async def test_history_pages_through_the_customers_audit_entries_newest_first(world: World) -> None:
    page1 = await history(world, first=2)
    assert [e["node"]["mutationId"] for e in page1["edges"]] == ["m-3", "m-2"]
    assert page1["pageInfo"] == {"hasNextPage": True, "endCursor": page1["edges"][-1]["cursor"]}

    page2 = await history(world, first=2, after=page1["pageInfo"]["endCursor"])
    assert [e["node"]["mutationId"] for e in page2["edges"]] == [world.mutation_id]
    assert page2["pageInfo"] == {"hasNextPage": False, "endCursor": page2["edges"][-1]["cursor"]}

    # Any edge's cursor continues after that edge.
    middle = await history(world, first=5, after=page1["edges"][0]["cursor"])
    assert [e["node"]["mutationId"] for e in middle["edges"]] == ["m-2", world.mutation_id]


async def test_history_entries_carry_changes_as_json_text_and_each_systems_outcome(world: World) -> None:
    newest, dead, written = [e["node"] for e in (await history(world, first=5))["edges"]]

    assert written["subject"] == "ann" and written["mutation"] == "updateCustomer"
    assert written["idempotencyKey"] == "key-1"
    assert written["changes"] == [{
        "attribute": "email",
        "before": json.dumps({"quickbooks:100": "ap@acme.test", "sharepoint:1": "old@acme.test"}, sort_keys=True),
        "after": '"new@acme.test"',
    }]
    assert sorted((o["target"], o["status"], o["error"]) for o in written["outcomes"]) == [
        ("quickbooks:100", "APPLIED", None), ("sharepoint:1", "APPLIED", None),
    ]
    assert written["at"] <= dead["at"] <= newest["at"]

    assert dead["changes"] == [{"attribute": "phone", "before": None, "after": '"+14155550100"'}]
    assert dead["outcomes"] == [{"target": "quickbooks:100", "status": "DEAD", "error": "quickbooks refused it"}]
    assert dead["idempotencyKey"] is None

    [address] = newest["changes"]
    assert json.loads(address["after"]) == {"city": "Springfield", "line1": "1 Main St"}
    assert json.loads(address["before"]) == {"sharepoint:1": None}


async def test_pending_writes_lists_the_customers_pending_outbox_entries_next_due_first(world: World) -> None:
    result = await run(world.services, PENDING, id=world.customer_id)
    assert result.errors is None, result.errors
    assert result.data is not None
    writes = result.data["customer"]["pendingWrites"]
    second, first = world.pending
    assert writes == [
        {"id": second.id, "system": "QUICKBOOKS", "recordId": "100", "action": "compensate", "attempts": 0,
         "nextAttemptAt": second.next_attempt_at.isoformat(), "lastError": None,
         "createdAt": second.created_at.isoformat(), "attributes": ["email", "name"]},
        {"id": first.id, "system": "SHAREPOINT", "recordId": "1", "action": "update", "attempts": 1,
         "nextAttemptAt": first.next_attempt_at.isoformat(), "lastError": "sharepoint is unavailable: HTTP 503",
         "createdAt": first.created_at.isoformat(), "attributes": ["address"]},
    ]


@pytest.mark.parametrize("first", [0, 6, 1000])
async def test_history_refuses_a_page_size_out_of_range(world: World, first: int) -> None:
    result = await run(world.services, HISTORY, id=world.customer_id, first=first)
    assert result.errors is not None
    [error] = result.errors
    assert error.extensions == {"code": "BAD_USER_INPUT", "argument": "first"}
    assert error.message == f"`first` must be between 1 and 5, got {first}"


async def test_history_refuses_a_cursor_it_did_not_issue(world: World) -> None:
    result = await run(world.services, HISTORY, id=world.customer_id, first=2, after="not-a-cursor")
    assert result.errors is not None
    [error] = result.errors
    assert error.extensions == {"code": "BAD_USER_INPUT", "argument": "after"}


async def test_a_read_only_gateway_has_no_history_and_no_pending_writes(world: World) -> None:
    read_only = replace(world.services, writes=None)
    page = (await run(read_only, HISTORY, id=world.customer_id, first=2)).data
    assert page == {"customer": {"history": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "edges": []}}}
    pending = (await run(read_only, PENDING, id=world.customer_id)).data
    assert pending == {"customer": {"pendingWrites": []}}
