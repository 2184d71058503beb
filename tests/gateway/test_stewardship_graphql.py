"""The steward's API over real HTTP: review queue, link, unlink, merge, resolve, and typed errors.

These tests change the index, so they run on a stack of their own (the package's `stack`
is shared by tests that count and page customers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import Stack, start_stack
from xref import ReviewCandidate, Stewardship, create_engine, create_sessions, pair_key
from connectors import SystemName

CUSTOMERS = """
{ customers(first: 100) { edges { node { id sourceRecords { system id decidedBy score evidence { attribute level weight } } } } } }
"""

CUSTOMER = """
query One($id: ID!) { customer(id: $id) { id sourceRecords { system id url decidedBy confidence } } }
"""

RESULT = """
... on StewardSuccess { customers { id sourceRecords { system id decidedBy } } decisionIds }
... on StewardError { message code }
"""

LINK = f"""
mutation Link($a: RecordKeyInput!, $b: RecordKeyInput!, $who: String!) {{
  linkRecords(a: $a, b: $b, decidedBy: $who) {{ __typename {RESULT} }}
}}
"""

UNLINK = f"""
mutation Unlink($r: RecordKeyInput!, $who: String!) {{
  unlinkRecord(record: $r, decidedBy: $who) {{ __typename {RESULT} }}
}}
"""

MERGE = f"""
mutation Merge($into: ID!, $from: ID!, $who: String!) {{
  mergeCustomers(into: $into, from: $from, decidedBy: $who) {{ __typename {RESULT} }}
}}
"""

RESOLVE = f"""
mutation Resolve($id: ID!, $accept: Boolean!, $who: String!) {{
  resolveReview(id: $id, accept: $accept, decidedBy: $who) {{ __typename {RESULT} }}
}}
"""

QUEUE = """
query Q($first: Int!, $after: String) {
  reviewQueue(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id score reason createdAt evidence { attribute level weight }
      left { system id url customer { id } }
      right { system id url customer { id } }
    } }
  }
}
"""


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    built, servers = start_stack(tmp_path_factory.mktemp("c360-steward"), customers=40)
    yield built
    for server in servers:
        server.stop()


def gql(stack: Stack, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(stack.graphql_url, json={"query": query, "variables": variables or {}}, timeout=30)
    body = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def customers(stack: Stack) -> list[dict[str, Any]]:
    return [edge["node"] for edge in gql(stack, CUSTOMERS)["customers"]["edges"]]


def ref(record: dict[str, Any]) -> dict[str, str]:
    return {"system": record["system"], "id": record["id"]}


def customer_of(stack: Stack, record: dict[str, str]) -> str:
    for node in customers(stack):
        if any(ref(r) == record for r in node["sourceRecords"]):
            return str(node["id"])
    raise AssertionError(f"{record} is in no customer")


def queue_pair(stack: Stack, a: dict[str, str], b: dict[str, str], evidence: dict[str, Any]) -> None:
    """Put one pair in the (otherwise emptied) review queue of this module's own stack."""

    async def put() -> None:
        engine = create_engine(stack.settings.resolved_database_url)
        try:
            pair = pair_key((SystemName(a["system"].lower()), a["id"]), (SystemName(b["system"].lower()), b["id"]))
            await Stewardship(create_sessions(engine)).sync_review_queue(
                None, [ReviewCandidate(pair=pair, score=1.5, evidence=evidence)]
            )
        finally:
            await engine.dispose()

    asyncio.run(put())


def multi(stack: Stack, size: int = 2) -> list[dict[str, Any]]:
    return [node for node in customers(stack) if len(node["sourceRecords"]) >= size]


def test_source_records_carry_the_score_and_evidence_of_their_link(own_stack: Stack) -> None:
    explained = [r for node in multi(own_stack) for r in node["sourceRecords"] if r["evidence"]]
    assert explained
    for record in explained:
        assert record["decidedBy"].startswith("matcher:")
        assert record["score"] == pytest.approx(sum(e["weight"] for e in record["evidence"]), abs=0.05)
        assert {e["attribute"] for e in record["evidence"]} & {"name", "email", "phone"}


def test_unlink_then_link_back_shows_at_once_with_the_steward(own_stack: Stack) -> None:
    node = multi(own_stack)[0]
    record = ref(node["sourceRecords"][-1])
    other = ref(node["sourceRecords"][0])

    unlinked = gql(own_stack, UNLINK, {"r": record, "who": "ann"})["unlinkRecord"]

    assert unlinked["__typename"] == "StewardSuccess"
    assert [c["id"] for c in unlinked["customers"]][0] == node["id"]
    own_id = unlinked["customers"][1]["id"]
    assert [ref(r) for r in unlinked["customers"][1]["sourceRecords"]] == [record]
    assert unlinked["customers"][1]["sourceRecords"][0]["decidedBy"] == "steward:ann"
    assert customer_of(own_stack, record) == own_id != node["id"]

    linked = gql(own_stack, LINK, {"a": other, "b": record, "who": "ann"})["linkRecords"]

    assert linked["__typename"] == "StewardSuccess" and len(linked["decisionIds"]) == 1
    assert [c["id"] for c in linked["customers"]] == [node["id"]]
    assert customer_of(own_stack, record) == node["id"]
    # The split-off id was retired into the customer the record went back to.
    assert gql(own_stack, CUSTOMER, {"id": own_id})["customer"]["id"] == node["id"]


def test_merge_customers_keeps_the_old_id_resolving(own_stack: Stack) -> None:
    nodes = customers(own_stack)
    into, source = nodes[-1], nodes[-2]

    merged = gql(own_stack, MERGE, {"into": into["id"], "from": source["id"], "who": "bob"})["mergeCustomers"]

    assert merged["__typename"] == "StewardSuccess"
    assert [c["id"] for c in merged["customers"]] == [into["id"]]
    held = {(r["system"], r["id"]) for r in merged["customers"][0]["sourceRecords"]}
    assert {(r["system"], r["id"]) for r in into["sourceRecords"] + source["sourceRecords"]} == held
    assert gql(own_stack, CUSTOMER, {"id": source["id"]})["customer"]["id"] == into["id"]


def test_review_queue_shows_the_pair_and_accepting_links_it(own_stack: Stack) -> None:
    nodes = [n for n in customers(own_stack) if len(n["sourceRecords"]) == 1][:2]
    assert len(nodes) == 2, "the generated data has customers known to one system"
    a, b = ref(nodes[0]["sourceRecords"][0]), ref(nodes[1]["sourceRecords"][0])
    queue_pair(own_stack, a, b, {"name": {"level": "high", "weight": 3.25}, "phone": {"level": "disagree", "weight": -1.75}})

    page = gql(own_stack, QUEUE, {"first": 5})["reviewQueue"]

    assert page["totalCount"] == 1 and page["pageInfo"]["hasNextPage"] is False
    [edge] = page["edges"]
    item = edge["node"]
    assert edge["cursor"] == page["pageInfo"]["endCursor"]
    assert (item["score"], item["reason"]) == (1.5, "uncertain")
    assert item["evidence"] == [
        {"attribute": "name", "level": "high", "weight": 3.25},
        {"attribute": "phone", "level": "disagree", "weight": -1.75},
    ]
    sides = {(item[s]["system"], item[s]["id"]): item[s] for s in ("left", "right")}
    assert set(sides) == {(a["system"], a["id"]), (b["system"], b["id"])}
    assert {side["customer"]["id"] for side in sides.values()} == {nodes[0]["id"], nodes[1]["id"]}
    assert all(side["url"] for side in sides.values())

    accepted = gql(own_stack, RESOLVE, {"id": item["id"], "accept": True, "who": "cy"})["resolveReview"]

    assert accepted["__typename"] == "StewardSuccess"
    assert customer_of(own_stack, a) == customer_of(own_stack, b)
    assert gql(own_stack, QUEUE, {"first": 5})["reviewQueue"]["totalCount"] == 0
    again = gql(own_stack, RESOLVE, {"id": item["id"], "accept": False, "who": "cy"})["resolveReview"]
    assert (again["__typename"], again["code"]) == ("StewardError", "INVALID_ACTION")


@pytest.mark.parametrize(
    ("query", "variables", "code", "names"),
    [
        (LINK, {"a": {"system": "TEAMWORK", "id": "999999"}, "b": {"system": "QUICKBOOKS", "id": "999998"}, "who": "d"},
         "RECORD_NOT_FOUND", "999"),
        (UNLINK, {"r": {"system": "SHAREPOINT", "id": "999999"}, "who": "d"}, "RECORD_NOT_FOUND", "sharepoint/999999"),
        (MERGE, {"into": "cus_nope", "from": "cus_other", "who": "d"}, "CUSTOMER_NOT_FOUND", "cus_nope"),
        (RESOLVE, {"id": "not-a-number", "accept": True, "who": "d"}, "REVIEW_ITEM_NOT_FOUND", "not-a-number"),
        (RESOLVE, {"id": "424242", "accept": True, "who": "d"}, "REVIEW_ITEM_NOT_FOUND", "424242"),
        (UNLINK, {"r": {"system": "SHAREPOINT", "id": "1"}, "who": " "}, "INVALID_ACTION", "who"),
    ],
)
def test_failures_are_typed_errors_naming_what_and_where(
    own_stack: Stack, query: str, variables: dict[str, Any], code: str, names: str
) -> None:
    [result] = gql(own_stack, query, variables).values()

    assert result["__typename"] == "StewardError"
    assert result["code"] == code and names in result["message"]


def test_a_bad_review_page_size_is_bad_input(own_stack: Stack) -> None:
    body = httpx.post(own_stack.graphql_url, json={"query": "{ reviewQueue(first: 0) { totalCount } }"}, timeout=30).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_schema_file_mentions_the_steward_api() -> None:
    text = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text()
    assert "reviewQueue(first: Int! = 20, after: String = null): ReviewItemConnection!" in text
    assert "union StewardResult = StewardSuccess | StewardError" in text
