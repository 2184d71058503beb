"""The lean leaf executor and the prefetching Customer give exactly what the general machinery gives.

In-process GraphQL over fake connectors (no HTTP): the same documents run on the gateway's
schema (`LeanExecutionContext`) and on the same types with strawberry's default execution
context, and on the gateway's schema with and without the root resolvers' prefetch.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
from collections.abc import Sequence
from datetime import UTC
from decimal import Decimal
from typing import Any

import pytest
import strawberry
from strawberry.permission import BasePermission
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionResult

from connectors import (
    Address,
    CustomerStatus,
    Document,
    Invoice,
    PersonName,
    Project,
    SourceRecord,
    SourceUnavailable,
    SystemName,
)
from resolvers import Services, build_context
from resolvers.errors import MaskInternalErrors
from resolvers.execution import LeanExecutionContext
from resolvers.limits import GraphQLLimits, limit_extensions
from resolvers.types import Customer
from tests.support.fakes import Billing, FakeXref, Library, Projects
from xref import CustomerInfo, LinkInfo

# `resolvers.schema` the attribute is the Schema object `resolvers/__init__` exports; this is the module.
schema_module = importlib.import_module("resolvers.schema")

QB, SP, TW = SystemName.QUICKBOOKS, SystemName.SHAREPOINT, SystemName.TEAMWORK
T0 = datetime.datetime(2024, 1, 1, 9, 30, tzinfo=UTC)
TODAY = datetime.date(2024, 6, 15)

LEAN = schema_module.build_schema()
DEFAULT = strawberry.Schema(
    query=schema_module._QUERY,
    mutation=schema_module._MUTATION,
    extensions=[MaskInternalErrors, *limit_extensions(GraphQLLimits())],
)

WHOLE_VIEW = """
id name email phone website status lifecycle balance
address { line1 line2 city state postalCode country }
conflicts { attribute values { system recordId value } winner { system recordId value } }
projects { id name status startDate endDate owner url }
invoices(first: 10) { totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id number date dueDate total balance currency status url } } }
documents { id name type url modified }
sourceRecords { system id url confidence decidedBy score evidence { attribute level weight } }
crm { __typename system id url version updatedAt name email phone status address { line1 city postalCode } }
projectManagement { system id version updatedAt name website status }
billing { system id version updatedAt name balance status personName { given family full } address { line1 state } }
"""

PAGE = "{ customers(first: 10) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { %s } } } }" % (
    WHOLE_VIEW
)
ONE = "query One($id: ID!) { customer(id: $id) { %s } }" % WHOLE_VIEW


# --- fakes -------------------------------------------------------------------------------------


def link(customer: str, system: SystemName, rid: str, **evidence: Any) -> LinkInfo:
    return LinkInfo(customer_id=customer, system=system, record_id=rid, confidence=0.93, evidence=evidence,
                    decided_by="fellegi_sunter", created_at=T0, updated_at=T0)


def customer(cid: str, *links: tuple[SystemName, str]) -> CustomerInfo:
    evidence = {"score": 12.5, "attributes": {"email": {"level": "exact", "weight": 8.0}}}
    return CustomerInfo(id=cid, created_at=T0, links=tuple(link(cid, s, r, **evidence) for s, r in links))


def services(
    *,
    qb_fetch_fails: Exception | None = None,
    qb_relation_fails: Exception | None = None,
    tw_relation_fails: Exception | None = None,
    broken_project: bool = False,
) -> Services:
    """Four customers: one in every system, one only in accounting (mostly nulls), one without
    accounting, one linked to a record that no longer exists."""
    billing = Billing(
        QB,
        [
            SourceRecord(system=QB, id="100", version="7", updated_at=T0, name="Acme Incorporated",
                         person_name=PersonName("Ada", "Lovelace"), email="ap@acme.com", phone="415.444.6538",
                         address=Address(line1="1 Main St", city="Springfield", state="IL", postal_code="62701"),
                         status=CustomerStatus.ACTIVE, balance=Decimal("1234.50"), url="https://qb.invalid/100"),
            SourceRecord(system=QB, id="101", name="Bare Books LLC", balance=None),
        ],
        {"100": [
            Invoice(system=QB, id="9001", customer_id="100", number="INV-1", date=datetime.date(2024, 5, 1),
                    due_date=datetime.date(2024, 5, 31), total=Decimal("1000.00"), balance=Decimal("234.50"),
                    currency="USD", url="https://qb.invalid/inv/9001"),
            Invoice(system=QB, id="9002", customer_id="100", number=None, date=datetime.date(2024, 6, 1),
                    due_date=datetime.date(2024, 7, 1), total=Decimal("1000"), balance=Decimal("1000")),
            Invoice(system=QB, id="9003", customer_id="100", date=None, due_date=None,
                    total=Decimal("0.10"), balance=Decimal(0)),
        ]},
        relation_fails=qb_relation_fails,
        fetch_fails=qb_fetch_fails,
    )
    projects = Projects(
        TW,
        [
            SourceRecord(system=TW, id="10", version="2024-01-01T00:00:00Z", name="ACME", website="acme.example",
                         email="pm@acme.com", status=None),
            SourceRecord(system=TW, id="12", name="Cee Corp", website=None, status=CustomerStatus.LEAD),
        ],
        {"10": [
            Project(system=TW, id="p1", customer_id="10", name="Website", status="active",
                    start_date=datetime.date(2024, 1, 2), end_date=None, owner="Ann Lee", url="https://tw.invalid/p1"),
            *([Project(system=TW, id="p2", customer_id="10", name=None)] if broken_project else []),  # type: ignore[arg-type]
        ]},
        relation_fails=tw_relation_fails,
    )
    library = Library(
        SP,
        [
            SourceRecord(system=SP, id="1", version='"etag-1"', updated_at=T0, name="Acme, Inc.",
                         email="sales@acme.com", phone="(415) 444-0000", status=CustomerStatus.ACTIVE,
                         address=Address(line1="1 Main Street", city="Springfield", postal_code="62701")),
            SourceRecord(system=SP, id="3", name="Cee Corporation", status=CustomerStatus.INACTIVE),
        ],
        {"1": [
            Document(system=SP, id="d1", customer_id="1", name="SOW.docx", document_type="SOW",
                     url="https://sp.invalid/d1", modified=T0),
            Document(system=SP, id="d2", customer_id="1", name="notes.txt", document_type=None),
        ]},
    )
    customers = [
        customer("c1", (QB, "100"), (SP, "1"), (TW, "10")),
        customer("c2", (QB, "101")),
        customer("c3", (SP, "3"), (TW, "12")),
        customer("c4", (QB, "999"), (SP, "1")),
    ]
    return Services(xref=FakeXref(customers), connectors={QB: billing, TW: projects, SP: library})  # type: ignore[arg-type]


def run(schema: strawberry.Schema, svc: Services, query: str, variables: dict[str, Any] | None = None) -> ExecutionResult:
    return asyncio.run(schema.execute(query, variable_values=variables, context_value=build_context(svc, today=TODAY)))


def errors_of(result: ExecutionResult) -> list[dict[str, Any]]:
    """Errors as clients see them, in a stable order (fields may fail in any order)."""
    return sorted((e.formatted for e in result.errors or []), key=lambda e: repr(e.get("path")))


def assert_same(left: ExecutionResult, right: ExecutionResult) -> None:
    assert left.data == right.data
    assert errors_of(left) == errors_of(right)


# --- lean vs default execution -----------------------------------------------------------------


def test_the_schemas_differ_only_in_their_execution_context() -> None:
    assert LEAN.execution_context_class is LeanExecutionContext
    assert DEFAULT.execution_context_class is StrawberryGraphQLCoreExecutionContext
    assert str(LEAN) == str(DEFAULT)


def test_a_page_of_whole_views_is_identical_to_the_default_execution() -> None:
    lean = run(LEAN, services(), PAGE)
    default = run(DEFAULT, services(), PAGE)

    assert lean.errors is None, lean.errors
    assert_same(lean, default)
    nodes = {e["node"]["id"]: e["node"] for e in lean.data["customers"]["edges"]}  # type: ignore[index]
    # The page really covers nulls, enums, Decimals, dates, datetimes and IDs.
    acme = nodes["c1"]
    assert acme["status"] == "ACTIVE" and acme["balance"] == "1234.50"
    assert acme["billing"][0]["updatedAt"] == "2024-01-01T09:30:00+00:00"
    invoices = {e["node"]["id"]: e["node"] for e in acme["invoices"]["edges"]}
    assert invoices["9001"] == {
        "id": "9001", "number": "INV-1", "date": "2024-05-01", "dueDate": "2024-05-31", "total": "1000.00",
        "balance": "234.50", "currency": "USD", "status": "OVERDUE", "url": "https://qb.invalid/inv/9001",
    }
    assert invoices["9003"]["status"] == "PAID" and invoices["9003"]["date"] is None
    assert [d["type"] for d in acme["documents"]] == ["SOW", "OTHER"]
    assert acme["sourceRecords"][0]["system"] == "QUICKBOOKS" and acme["sourceRecords"][0]["score"] == 12.5
    assert nodes["c2"]["balance"] is None and nodes["c2"]["address"] is None and nodes["c2"]["crm"] == []
    assert nodes["c3"]["projectManagement"][0]["status"] == "LEAD" and nodes["c3"]["invoices"]["totalCount"] == 0
    assert nodes["c4"]["billing"] == []  # linked to a record that is gone


def test_one_customer_with_aliases_and_fragments_is_identical_to_the_default_execution() -> None:
    query = """
    query One($id: ID!) {
      first: customer(id: $id) { ...View }
      again: customer(id: $id) { id ... on Customer { label: name balance } crm { ...Rec } }
      missing: customer(id: "nope") { id name }
    }
    fragment Rec on SystemRecord { system id name updatedAt }
    fragment View on Customer { %s }
    """ % WHOLE_VIEW
    for cid in ("c1", "c2", "c3", "c4"):
        lean = run(LEAN, services(), query, {"id": cid})
        assert lean.errors is None, lean.errors
        assert_same(lean, run(DEFAULT, services(), query, {"id": cid}))
        assert lean.data["missing"] is None  # type: ignore[index]


def test_a_null_in_a_non_null_field_is_the_standard_error_in_the_same_place() -> None:
    query = "{ customer(id: \"c1\") { id projects { id name owner } } }"
    lean = run(LEAN, services(broken_project=True), query)
    default = run(DEFAULT, services(broken_project=True), query)

    assert_same(lean, default)
    [error] = lean.errors or []
    assert (error.message, error.extensions["code"]) == ("Internal error.", "INTERNAL")  # type: ignore[index]
    assert error.path == ["customer", "projects", 1, "name"]
    # The null went up to the nearest nullable field, as the spec says.
    assert lean.data == {"customer": {"id": "c1", "projects": None}}
    # Unmasked, it is graphql-core's own error.
    plain = strawberry.Schema(query=schema_module._QUERY, execution_context_class=LeanExecutionContext)
    unmasked = run(plain, services(broken_project=True), query)
    assert [(e.message, e.path) for e in unmasked.errors or []] == [
        ("Cannot return null for non-nullable field Project.name.", ["customer", "projects", 1, "name"])
    ]
    assert_same(unmasked, run(strawberry.Schema(query=schema_module._QUERY), services(broken_project=True), query))


def test_failing_systems_give_the_same_errors_as_the_default_execution() -> None:
    down = SourceUnavailable(QB, "down for maintenance")
    for svc in (lambda: services(qb_fetch_fails=down, qb_relation_fails=down),
                lambda: services(tw_relation_fails=RuntimeError("a bug in the projects loader"))):
        lean = run(LEAN, svc(), PAGE)
        assert lean.errors and lean.data is not None
        assert_same(lean, run(DEFAULT, svc(), PAGE))


def test_the_shortcut_really_skips_the_general_path_for_plain_leaves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Otherwise the comparisons above would compare the general path with itself."""
    calls: list[str] = []
    general = StrawberryGraphQLCoreExecutionContext.execute_field

    def counting(self: Any, parent_type: Any, *args: Any) -> Any:
        calls.append(parent_type.name)
        return general(self, parent_type, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", counting)
    run(DEFAULT, services(), PAGE)
    default_calls, calls[:] = list(calls), []
    run(LEAN, services(), PAGE)

    assert "Invoice" in default_calls and "Invoice" not in calls  # every Invoice field is a plain leaf
    assert len(calls) < len(default_calls) / 2


# --- what the shortcut must leave to the general path --------------------------------------------


class Deny(BasePermission):
    message = "not for you"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Secret:
    public: str
    hidden: str | None = strawberry.field(permission_classes=[Deny])


@strawberry.type
class SecretQuery:
    @strawberry.field
    def secret(self) -> Secret:
        return Secret(public="p", hidden="h")


def test_a_leaf_with_a_permission_class_is_still_checked() -> None:
    lean = strawberry.Schema(query=SecretQuery, execution_context_class=LeanExecutionContext)
    result = lean.execute_sync("{ secret { public hidden } }")

    assert result.data == {"secret": {"public": "p", "hidden": None}}
    assert [(e.message, e.path) for e in result.errors or []] == [("not for you", ["secret", "hidden"])]


@strawberry.type
class Row:
    name: str


@strawberry.type
class RowQuery:
    @strawberry.field
    def row(self) -> Row:
        return {"name": "from the dict"}  # type: ignore[return-value]


def getitem(source: Any, name: str) -> Any:
    return source[name]


def test_a_configured_default_resolver_is_still_used() -> None:
    config = StrawberryConfig(default_resolver=getitem)
    lean = strawberry.Schema(query=RowQuery, config=config, execution_context_class=LeanExecutionContext)
    default = strawberry.Schema(query=RowQuery, config=config)

    assert lean.execute_sync("{ row { name } }").data == default.execute_sync("{ row { name } }").data == {
        "row": {"name": "from the dict"}
    }


# --- Customers without prefetch (built outside the root resolvers) -------------------------------


async def _no_prefetch(customers: Sequence[Customer], info: Any, fields: Any) -> None:
    return None


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(services, id="healthy"),
        pytest.param(lambda: services(qb_fetch_fails=SourceUnavailable(QB, "down"),
                                      qb_relation_fails=SourceUnavailable(QB, "down")), id="accounting-down"),
        pytest.param(lambda: services(tw_relation_fails=RuntimeError("loader bug")), id="relation-bug"),
        pytest.param(lambda: services(qb_fetch_fails=RuntimeError("fetch bug")), id="records-bug"),
    ],
)
def test_customers_that_were_not_prefetched_answer_exactly_the_same(monkeypatch: pytest.MonkeyPatch, make: Any) -> None:
    prefetched_page, prefetched_one = run(LEAN, make(), PAGE), run(LEAN, make(), ONE, {"id": "c1"})
    monkeypatch.setattr(schema_module, "prefetch", _no_prefetch)
    on_demand_page, on_demand_one = run(LEAN, make(), PAGE), run(LEAN, make(), ONE, {"id": "c1"})

    assert on_demand_page.data is not None or on_demand_page.errors  # (`conflicts` is non-null: a records bug nulls all)
    assert_same(prefetched_page, on_demand_page)
    assert_same(prefetched_one, on_demand_one)


def test_a_customer_built_outside_a_root_resolver_resolves_every_field() -> None:
    """Field functions of a Customer nobody prefetched return awaitables that load on demand."""
    svc = services()
    lean = run(LEAN, svc, ONE, {"id": "c1"})
    assert lean.errors is None

    async def direct() -> dict[str, Any]:
        context = build_context(svc, today=TODAY)
        info: Any = type("FakeInfo", (), {"context": context})()
        found = Customer(id=strawberry.ID("c1"), links=list(svc.xref.customers["c1"].links))  # type: ignore[attr-defined]
        name, balance, status, billing = (found.name(info), found.balance(info), found.status(info),
                                          found.billing(info))
        projects = found.projects(info)
        assert all(asyncio.iscoroutine(v) for v in (name, balance, status, billing, projects))
        return {
            "name": await name, "balance": await balance, "status": await status,  # type: ignore[misc]
            "billing": [r.id for r in await billing],  # type: ignore[misc]
            "projects": [p.name for p in await projects],  # type: ignore[misc]
        }

    got = asyncio.run(direct())
    view = lean.data["customer"]  # type: ignore[index]
    assert got == {
        "name": view["name"], "balance": Decimal(view["balance"]), "status": CustomerStatus(view["status"].lower()),
        "billing": [r["id"] for r in view["billing"]], "projects": [p["name"] for p in view["projects"]],
    }


# --- the root resolvers prefetch what the query selects -------------------------------------------


def test_root_resolvers_prefetch_fields_selected_through_aliases_and_fragments(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[list[Customer], frozenset[str]]] = []
    original = schema_module.prefetch

    async def spy(customers: Sequence[Customer], info: Any, fields: Any) -> None:
        seen.append((list(customers), frozenset(fields)))
        await original(customers, info, fields)

    monkeypatch.setattr(schema_module, "prefetch", spy)
    query = """
    query {
      customers(first: 3) { ...Page }
      one: customer(id: "c1") { id ... on Customer { label: name } ...Money }
    }
    fragment Page on CustomerConnection { totalCount edges { node { id email projects { id } } } }
    fragment Money on Customer { invoices(first: 1) { totalCount } }
    """
    result = run(LEAN, services(), query)

    assert result.errors is None, result.errors
    by_size = sorted(seen, key=lambda s: len(s[0]))
    (one, one_fields), (page, page_fields) = by_size
    assert page_fields == {"id", "email", "projects"}
    assert one_fields == {"id", "name", "invoices"}
    # And the data really was loaded up front: the fields answer without awaiting.
    assert all(c._ready is not None for c in page) and all(c._related_ready for c in page)
    assert one[0]._ready is not None and one[0]._related_ready is not None and "invoices" in one[0]._related_ready


# --- plans shared across requests -------------------------------------------------------------


def _counting_compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    compiled: list[str] = []
    original = LeanExecutionContext._compile

    def counting(self: LeanExecutionContext, object_type: Any, field_details_list: Any) -> Any:
        compiled.append(object_type.name)
        return original(self, object_type, field_details_list)

    monkeypatch.setattr(LeanExecutionContext, "_compile", counting)
    return compiled


def test_the_same_query_again_reuses_its_compiled_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = _counting_compiles(monkeypatch)
    query = "query PageAgain " + PAGE  # a document no other test has cached plans for
    first = run(LEAN, services(), query)
    assert "Customer" in compiled and "Invoice" in compiled
    compiled.clear()
    second = run(LEAN, services(), query)
    assert compiled == []
    assert_same(first, second)
    assert_same(second, run(DEFAULT, services(), query))


def test_a_query_with_include_directives_is_planned_per_request_and_follows_its_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiled = _counting_compiles(monkeypatch)
    query = """
    query Some($withBilling: Boolean!, $id: ID!) {
      customer(id: $id) { id name billing @include(if: $withBilling) { id name balance }
                          address { city ... on Address @include(if: $withBilling) { postalCode } } }
    }
    """
    for flag in (True, False, True):
        compiled.clear()
        lean = run(LEAN, services(), query, {"withBilling": flag, "id": "c1"})
        assert compiled, "a plan made under other variables must not be reused"
        assert lean.errors is None, lean.errors
        assert_same(lean, run(DEFAULT, services(), query, {"withBilling": flag, "id": "c1"}))
        assert ("billing" in lean.data["customer"]) is flag  # type: ignore[index]
        assert ("postalCode" in lean.data["customer"]["address"]) is flag  # type: ignore[index]
