"""Survivorship policy per attribute, conflicts, and the relation fields' batching and failure rules.

Unit tests of the pure policy functions; in-process GraphQL over fake connectors (to fix
`today` and to make one system fail); one test over real HTTP with the shared `stack`.
"""

from __future__ import annotations

import asyncio
import datetime
from datetime import UTC
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors import Address, Invoice, Project, SourceRecord, SourceUnavailable, SystemName
from gateway.config import Settings
from resolvers import Services, build_context, schema
from resolvers.survivorship import DEFAULT_POLICY, Policy, Rule, Strategy, choose, conflicts, unified
from tests.support.fakes import Billing, FakeXref, Projects, make_record
from xref import CustomerInfo, LinkInfo

QB, SP, TW = SystemName.QUICKBOOKS, SystemName.SHAREPOINT, SystemName.TEAMWORK
T0 = datetime.datetime(2024, 1, 1, tzinfo=UTC)


def rec(system: SystemName, rid: str, *, updated: int = 0, **values: Any) -> SourceRecord:
    return SourceRecord(system=system, id=rid, updated_at=T0 + datetime.timedelta(days=updated), **values)


def by_system(*records: SourceRecord) -> dict[SystemName, list[SourceRecord]]:
    grouped: dict[SystemName, list[SourceRecord]] = {}
    for record in records:
        grouped.setdefault(record.system, []).append(record)
    return grouped


# --- the policy ------------------------------------------------------------------------------


def test_defaults_put_accounting_first_for_name_and_the_crm_first_for_contact_details() -> None:
    records = by_system(
        rec(QB, "1", name="Acme Inc", email="ap@acme.com", phone="415 444 6538"),
        rec(SP, "2", name="ACME", email="sales@acme.com", phone="(415) 444-0000"),
        rec(TW, "3", name="Acme Teamwork"),
    )
    assert unified(records, "name", DEFAULT_POLICY) == "Acme Inc"
    assert unified(records, "email", DEFAULT_POLICY) == "sales@acme.com"
    assert unified(records, "phone", DEFAULT_POLICY) == "(415) 444-0000"


def test_source_priority_skips_systems_without_a_value() -> None:
    records = by_system(rec(QB, "1", email=" "), rec(SP, "2"), rec(TW, "3", email="x@y.com"))
    assert unified(records, "email", DEFAULT_POLICY) == "x@y.com"
    assert unified(by_system(rec(QB, "1")), "email", DEFAULT_POLICY) is None


def test_most_recent_takes_the_latest_update_and_priority_breaks_ties() -> None:
    rule = Rule(Strategy.MOST_RECENT, (QB, SP, TW))
    records = by_system(rec(QB, "1", updated=1, name="Old"), rec(TW, "3", updated=5, name="New"))
    assert choose(records, "name", rule).value == "New"  # type: ignore[union-attr]
    tied = by_system(rec(TW, "3", updated=5, name="Later"), rec(SP, "2", updated=5, name="Earlier in priority"))
    assert choose(tied, "name", rule).value == "Earlier in priority"  # type: ignore[union-attr]


def test_most_complete_address_has_the_most_non_empty_parts() -> None:
    rule = Rule(Strategy.MOST_COMPLETE, (QB, SP, TW))
    thin = Address(line1="1 Main St", city="Boston")
    full = Address(line1="1 Main St", line2="Suite 4", city="Boston", state="MA", postal_code="02110")
    records = by_system(rec(QB, "1", address=thin), rec(TW, "3", address=full))
    choice = choose(records, "address", rule)
    assert choice is not None and choice.value == full and choice.record.system == TW
    # Equally complete: the priority decides.
    same = by_system(rec(TW, "3", address=thin), rec(QB, "1", address=Address(line1="2 Elm St", city="Boston")))
    assert choose(same, "address", rule).record.system == QB  # type: ignore[union-attr]


# --- conflicts ------------------------------------------------------------------------------


def test_values_that_normalize_alike_are_not_conflicts() -> None:
    records = by_system(
        rec(QB, "1", name="Bill's Windsurf Shop, Inc.", email="Info@Bills.com", phone="(415) 444-6538",
            address=Address(line1="12 Ocean Drive", line2="Suite 4", city="San Diego", state="CA", postal_code="92101")),
        rec(SP, "2", name="Bills Windsurf Shop", email="mailto:info@bills.com", phone="+1 415.444.6538",
            address=Address(line1="12 Ocean Dr, Ste. 4", city="san diego", state="California", postal_code="92101-1234")),
        rec(TW, "3", email=None),
    )
    assert conflicts(records, DEFAULT_POLICY) == []


def test_a_real_disagreement_lists_every_value_and_the_winner() -> None:
    records = by_system(
        rec(QB, "1", email="ap@acme.com", phone="415 444 6538"),
        rec(SP, "2", email="sales@acme.com", phone="415-444-6538"),
        rec(TW, "3", email="AP@acme.com"),
    )
    (found,) = conflicts(records, DEFAULT_POLICY)
    assert found.attribute == "email"
    assert [(v.system, v.record_id, v.value) for v in found.values] == [
        (SP, "2", "sales@acme.com"),
        (QB, "1", "ap@acme.com"),
        (TW, "3", "AP@acme.com"),
    ]
    assert found.winner is not None and (found.winner.system, found.winner.value) == (SP, "sales@acme.com")
    # Another policy, another winner; the disagreement is the same.
    qb_first = Policy(rules={"email": Rule(Strategy.SOURCE_PRIORITY, (QB, SP, TW))})
    (again,) = conflicts(records, qb_first)
    assert again.winner is not None and again.winner.system == QB


def test_settings_override_one_attribute_and_keep_the_other_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_SURVIVORSHIP__EMAIL__STRATEGY", "most_recent")
    monkeypatch.setenv("C360_SURVIVORSHIP__EMAIL__PRIORITY", '["teamwork", "quickbooks"]')
    policy = Settings().survivorship_policy()
    assert policy.rule("email") == Rule(Strategy.MOST_RECENT, (TW, QB))
    assert policy.rule("name") == DEFAULT_POLICY.rule("name")
    assert policy.rule("phone").priority == (SP, QB, TW)


def test_settings_refuse_an_unknown_attribute() -> None:
    with pytest.raises(ValueError, match="unknown attributes"):
        Settings(survivorship={"shoe_size": {"strategy": "most_recent"}})


# --- in-process GraphQL: today injected, one call per relation, a failing system nulls only its fields ---


def link(customer: str, system: SystemName, rid: str) -> LinkInfo:
    return LinkInfo(customer_id=customer, system=system, record_id=rid, confidence=1.0, evidence={},
                    decided_by="test", created_at=T0, updated_at=T0)


def invoice(rid: str, customer: str, balance: str, due: datetime.date) -> Invoice:
    return Invoice(system=QB, id=rid, customer_id=customer, number=rid, date=due - datetime.timedelta(days=30),
                   due_date=due, total=Decimal(100), balance=Decimal(balance))


TODAY = datetime.date(2024, 6, 15)


def _services(qb_fails: Exception | None = None) -> tuple[Services, Billing, Projects]:
    customers = [
        CustomerInfo(id=f"c{i}", created_at=T0, links=(link(f"c{i}", QB, str(i)), link(f"c{i}", TW, str(100 + i))))
        for i in range(1, 4)
    ]
    billing = Billing(
        QB,
        [make_record(QB, str(i), name=f"Acme {i}", email=f"ap@acme{i}.com") for i in range(1, 4)],
        {"1": [invoice("11", "1", "0", TODAY), invoice("12", "1", "50", TODAY), invoice("13", "1", "5", TODAY
                                                                                         - datetime.timedelta(days=1))]},
        relation_fails=qb_fails,
    )
    projects = Projects(
        TW,
        [make_record(TW, str(100 + i), name=f"Acme {i}", email=f"pm@acme{i}.com") for i in range(1, 4)],
        {"101": [Project(system=TW, id="p1", customer_id="101", name="Website", owner="Ann Lee")]},
    )
    services = Services(xref=FakeXref(customers), connectors={QB: billing, TW: projects})  # type: ignore[arg-type]
    return services, billing, projects


RELATIONS = """{ customers(first: 3) { edges { node { id email conflicts { attribute winner { system } }
  projects { name owner } invoices { edges { node { id status } } } } } } }"""


def test_statuses_use_the_injected_today_and_each_relation_is_one_call_for_the_page() -> None:
    services, billing, projects = _services()
    result = asyncio.run(schema.execute(RELATIONS, context_value=build_context(services, today=TODAY)))
    assert result.errors is None
    nodes = result.data["customers"]["edges"]  # type: ignore[index]
    statuses = {e["node"]["id"]: e["node"]["status"] for e in nodes[0]["node"]["invoices"]["edges"]}
    assert statuses == {"11": "PAID", "12": "OPEN", "13": "OVERDUE"}
    assert nodes[0]["node"]["projects"] == [{"name": "Website", "owner": "Ann Lee"}]
    assert billing.relation_calls == [["1", "2", "3"]] and projects.relation_calls == [["101", "102", "103"]]
    assert billing.fetch_many_calls == [["1", "2", "3"]]
    # CRM missing here, so email falls to accounting, and Teamwork's disagreeing email is a conflict.
    assert nodes[0]["node"]["email"] == "ap@acme1.com"
    assert nodes[0]["node"]["conflicts"] == [{"attribute": "email", "winner": {"system": "QUICKBOOKS"}}]


def test_a_failing_system_nulls_only_its_relation_with_the_source_error() -> None:
    services, _, _ = _services(qb_fails=SourceUnavailable(QB, "down for maintenance"))
    result = asyncio.run(schema.execute(RELATIONS, context_value=build_context(services, today=TODAY)))
    assert result.data is not None and result.errors
    for edge in result.data["customers"]["edges"]:
        assert edge["node"]["invoices"] is None and edge["node"]["projects"] is not None
    assert {e.extensions["code"] for e in result.errors} == {"SOURCE_UNAVAILABLE"}  # type: ignore[index]
    assert {e.extensions["system"] for e in result.errors} == {"quickbooks"}  # type: ignore[index]
    assert {tuple(e.path[-1:]) for e in result.errors} == {("invoices",)}  # type: ignore[index]


# --- over real HTTP ----------------------------------------------------------------------------


def test_conflicts_over_graphql_follow_the_default_policy(stack) -> None:
    query = """{ customers(first: 100) { edges { node { email name
      conflicts { attribute values { system recordId value } winner { system recordId value } } } } } }"""
    body = httpx.post(stack.graphql_url, json={"query": query}, timeout=60).json()
    assert "errors" not in body, body.get("errors")
    found = [(e["node"], c) for e in body["data"]["customers"]["edges"] for c in e["node"]["conflicts"]]
    assert found, "generated data has drift between systems"
    order = {"email": ["SHAREPOINT", "QUICKBOOKS", "TEAMWORK"], "name": ["QUICKBOOKS", "SHAREPOINT", "TEAMWORK"]}
    for node, conflict in found:
        assert len({v["value"] for v in conflict["values"]}) >= 2
        assert conflict["winner"] in conflict["values"]
        if conflict["attribute"] in order:
            systems = [v["system"] for v in conflict["values"]]
            best = min(systems, key=order[conflict["attribute"]].index)
            assert conflict["winner"]["system"] == best
            assert node[conflict["attribute"]] == conflict["winner"]["value"]
