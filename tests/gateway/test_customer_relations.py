"""The whole customer view over real HTTP: relations, batching per system and relation, and customer filters.

One private stack with more than 100 customers, so a page of 100 is full; the simulators
count every call they answer, which is how the batching promise is checked.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import Stack, start_stack

#: Every field of the whole view. `invoices(first: 5)` keeps the query under the default cost
#: limit (resolvers/limits.py); the page size does not change how many upstream calls are made.
EVERY_FIELD = """
id name email phone website status lifecycle balance
address { line1 line2 city state postalCode country }
conflicts { attribute values { system recordId value } winner { system recordId value } }
projects { id name status startDate endDate owner url }
invoices(first: 5) { totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id number date dueDate total balance currency status url } } }
documents { id name type url modified }
sourceRecords { system id url confidence decidedBy }
crm { id name status } projectManagement { id name website } billing { id name balance status }
"""

PAGE_100 = "{ customers(first: 100) { edges { node { %s } } } }" % EVERY_FIELD

ONE = """
query One($id: ID!, $first: Int!, $after: String, $filter: InvoiceFilter) {
  customer(id: $id) {
    id balance billing { id balance }
    invoices(first: $first, after: $after, filter: $filter) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { cursor node { id number date dueDate total balance status } }
    }
  }
}
"""


def post(stack: Stack, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(stack.graphql_url, json={"query": query, "variables": variables or {}}, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body.get("errors")
    return body["data"]


def reset_stats(stack: Stack) -> None:
    for url in stack.simulator_urls.values():
        httpx.delete(f"{url}/_admin/stats").raise_for_status()


def stats(stack: Stack) -> dict[str, dict[str, int]]:
    return {name: httpx.get(f"{url}/_admin/stats").json()["calls"] for name, url in stack.simulator_urls.items()}


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    built, servers = start_stack(tmp_path_factory.mktemp("c360-relations"), customers=110)
    yield built
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def first_page(big: Stack) -> tuple[list[dict[str, Any]], dict[str, dict[str, int]]]:
    """The first 100 customers with every field, and the upstream calls that one query made."""
    reset_stats(big)
    nodes = [edge["node"] for edge in post(big, PAGE_100)["customers"]["edges"]]
    return nodes, stats(big)


@pytest.fixture(scope="module")
def page(first_page: tuple[list[dict[str, Any]], dict[str, dict[str, int]]]) -> list[dict[str, Any]]:
    return first_page[0]


def _linked(nodes: list[dict[str, Any]], system: str) -> int:
    return len({r["id"] for n in nodes for r in n["sourceRecords"] if r["system"] == system})


def test_a_page_of_100_makes_one_call_per_system_and_relation_chunked_by_api_limits(first_page) -> None:
    nodes, calls = first_page
    assert len(nodes) == 100
    sharepoint, teamwork, quickbooks = (_linked(nodes, s) for s in ("SHAREPOINT", "TEAMWORK", "QUICKBOOKS"))
    assert min(sharepoint, teamwork, quickbooks) > 20  # the page really spans every system

    # Graph: customer items and documents both go through `$batch` (at most 20 sub-requests), each
    # sub-request a `$filter` of up to 20 keys joined by `or`: one batch per relation for 100 customers.
    assert calls["sharepoint"] == {"POST /v1.0/$batch": 2}
    # Teamwork: one `ids=` call for the companies, one `companyIds=` call for the projects (<= 500 ids each).
    assert calls["teamwork"] == {
        "GET /projects/api/v3/companies.json": 1,
        "GET /projects/api/v3/projects.json": 1,
    }
    # QuickBooks: one `Id in (...)` customer query, one `CustomerRef in (...)` invoice query (<= 200 refs);
    # both are the same path. The token call is the OAuth refresh, once per gateway process at most.
    queries = {path: n for path, n in calls["quickbooks"].items() if path.endswith("/query")}
    assert list(queries.values()) == [1 + math.ceil(quickbooks / 200)] == [2]
    assert set(calls["quickbooks"]) - set(queries) <= {"POST /oauth2/v1/tokens/bearer"}


def test_the_whole_view_holds_projects_invoices_documents_and_lifecycle(page) -> None:
    projects = [p for n in page for p in n["projects"]]
    invoices = [e["node"] for n in page for e in n["invoices"]["edges"]]
    documents = [d for n in page for d in n["documents"]]

    assert projects and invoices and documents
    assert all(p["name"] and p["url"] for p in projects)
    assert any(p["owner"] for p in projects)  # Teamwork's `include=users` maps the owner's name
    assert {d["type"] for d in documents} <= {"PROPOSAL", "SOW", "CONTRACT", "OTHER"}
    assert {"PROPOSAL", "SOW"} & {d["type"] for d in documents}
    assert all(d["name"] and d["url"] for d in documents)
    assert {n["lifecycle"] for n in page} <= {"LEAD", "ACTIVE", "INACTIVE", None}
    assert any(n["lifecycle"] == "LEAD" for n in page) and any(n["lifecycle"] == "ACTIVE" for n in page)
    # Only customers with an accounting record have invoices, a balance and accounting documents' peers.
    for node in page:
        if not node["billing"]:
            assert node["invoices"]["totalCount"] == 0 and node["balance"] is None


def _status(invoice: dict[str, Any], today: datetime.date) -> str:
    if Decimal(invoice["balance"]) <= 0:
        return "PAID"
    if invoice["dueDate"] and datetime.date.fromisoformat(invoice["dueDate"]) < today:
        return "OVERDUE"
    return "OPEN"


def _with_most_invoices(page: list[dict[str, Any]]) -> dict[str, Any]:
    return max(page, key=lambda n: n["invoices"]["totalCount"])


def test_invoices_are_newest_first_with_a_status_and_cursor_pages(big: Stack, page) -> None:
    customer = _with_most_invoices(page)
    assert customer["invoices"]["totalCount"] >= 3
    before = datetime.date.today()
    everything = post(big, ONE, {"id": customer["id"], "first": 100})["customer"]["invoices"]
    after = datetime.date.today()
    nodes = [e["node"] for e in everything["edges"]]
    assert len(nodes) == everything["totalCount"] and not everything["pageInfo"]["hasNextPage"]
    assert [n["date"] for n in nodes] == sorted((n["date"] for n in nodes), reverse=True)
    # Computed against the gateway's today (read on either side of the request: a midnight is harmless).
    assert all(n["status"] in {_status(n, before), _status(n, after)} for n in nodes)

    paged: list[str] = []
    cursor = None
    while True:
        part = post(big, ONE, {"id": customer["id"], "first": 2, "after": cursor})["customer"]["invoices"]
        paged += [e["node"]["id"] for e in part["edges"]]
        if not part["pageInfo"]["hasNextPage"]:
            break
        cursor = part["pageInfo"]["endCursor"]
    assert paged == [n["id"] for n in nodes]


def test_invoice_filter_keeps_only_the_statuses_asked_for(big: Stack, page) -> None:
    customer = _with_most_invoices(page)
    everything = post(big, ONE, {"id": customer["id"], "first": 100})["customer"]["invoices"]
    by_status: dict[str, set[str]] = {}
    for edge in everything["edges"]:
        by_status.setdefault(edge["node"]["status"], set()).add(edge["node"]["id"])
    for wanted in (["PAID"], ["OPEN", "OVERDUE"]):
        found = post(big, ONE, {"id": customer["id"], "first": 100, "filter": {"status": wanted}})
        ids = {e["node"]["id"] for e in found["customer"]["invoices"]["edges"]}
        assert ids == set().union(*(by_status.get(s, set()) for s in wanted))
        assert found["customer"]["invoices"]["totalCount"] == len(ids)


def test_balance_is_the_sum_of_the_accounting_records_balances(page) -> None:
    with_billing = [n for n in page if n["billing"]]
    assert with_billing
    for node in with_billing:
        assert Decimal(node["balance"]) == sum((Decimal(b["balance"]) for b in node["billing"]), Decimal(0))
    assert any(Decimal(n["balance"]) > 0 for n in with_billing)


# --- customers(filter: ...) ------------------------------------------------------------------------

FILTERED = """
query Filtered($first: Int!, $after: String, $filter: CustomerFilter) {
  customers(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id lifecycle sourceRecords { system } unpaid: invoices(filter: {status: [OPEN, OVERDUE]}) { totalCount } } }
  }
}
"""


def _all(stack: Stack, filter_: dict[str, Any] | None, first: int) -> list[dict[str, Any]]:
    """Every page of a filtered listing, following `endCursor` (a scan page may be short or empty)."""
    nodes: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        part = post(stack, FILTERED, {"first": first, "after": cursor, "filter": filter_})["customers"]
        assert len(part["edges"]) <= first
        nodes += [e["node"] for e in part["edges"]]
        if not part["pageInfo"]["hasNextPage"]:
            return nodes
        cursor = part["pageInfo"]["endCursor"]
    raise AssertionError("the listing did not end")


@pytest.fixture(scope="module")
def everyone(big: Stack) -> list[dict[str, Any]]:
    return _all(big, None, 100)


def test_system_filter_is_answered_by_the_index(big: Stack, everyone) -> None:
    both = ["TEAMWORK", "QUICKBOOKS"]
    first = post(big, FILTERED, {"first": 100, "filter": {"system": both}})["customers"]
    expected = [n["id"] for n in everyone if set(both) <= {r["system"] for r in n["sourceRecords"]}]
    assert first["totalCount"] == len(expected)
    assert _all(big, {"system": both}, 7) == [n for n in everyone if n["id"] in set(expected)]


def test_status_filter_scans_live_records_and_pages_on(big: Stack, everyone) -> None:
    leads = [n for n in everyone if n["lifecycle"] == "LEAD"]
    assert leads and len(leads) < len(everyone)
    found = _all(big, {"status": ["LEAD"]}, 4)
    assert [n["id"] for n in found] == [n["id"] for n in leads]
    first_page = post(big, FILTERED, {"first": 4, "filter": {"status": ["LEAD"]}})["customers"]
    assert first_page["totalCount"] is None  # unknown without scanning everything


def test_has_open_invoices_filter_both_ways(big: Stack, everyone) -> None:
    def is_open(node: dict[str, Any]) -> bool:
        return node["unpaid"]["totalCount"] > 0

    assert [n["id"] for n in _all(big, {"hasOpenInvoices": True}, 10)] == [n["id"] for n in everyone if is_open(n)]
    assert [n["id"] for n in _all(big, {"hasOpenInvoices": False}, 50)] == [
        n["id"] for n in everyone if not is_open(n)
    ]


def test_filters_combine_and_the_search_argument_still_works(big: Stack, page) -> None:
    name = next(n["name"] for n in page if n["billing"] and n["name"])
    via_argument = post(big, "{ customers(first: 5, search: %s) { edges { node { id } } } }" % _gql(name))
    via_filter = post(
        big, "{ customers(first: 5, filter: {search: %s}) { edges { node { id } } } }" % _gql(name)
    )
    assert via_argument == via_filter and via_argument["customers"]["edges"]
    combined = post(
        big,
        "{ customers(first: 5, filter: {search: %s, system: [QUICKBOOKS], status: [ACTIVE, INACTIVE, LEAD]}) "
        "{ edges { node { id lifecycle sourceRecords { system } } } } }" % _gql(name),
    )
    for edge in combined["customers"]["edges"]:
        assert "QUICKBOOKS" in {r["system"] for r in edge["node"]["sourceRecords"]}


def _gql(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
