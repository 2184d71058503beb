"""`c360 reconcile` over real HTTP: generated data with known drift, the three simulators, the initial match.

The drift the generator put in (drift_truth.csv) is what the run must report, customer for
customer; `--fix --apply` must remove all of it through the write path, one audited write
per repair, remove links to records deleted in their system and set active customers up
where they are missing (once, however often it runs), and leave duplicates and the review
backlog to a steward; the run summaries stored hold counts only and feed `dataQuality`.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from connectors import Address, RecordChanges, SourceRecord, SystemName
from gateway._console import console
from gateway.app import create_app
from gateway.cli import app
from gateway.config import SandboxSettings, Settings
from gateway.sources import close_connectors, effective_sources, open_connectors
from resolvers.reconcile import ATTRIBUTES, CHECKS
from sandbox._server import ThreadedServer
from sandbox._simulator import Simulator
from sandbox.generate import generate
from sandbox.runtime import credentials_for, open_simulators
from tests.gateway.conftest import _initial_match
from xref import AuditRecord, CustomerInfo, ReconcileRun, XrefService, create_engine, create_sessions
from xref.reconcile_runs import check_counts_only

runner = CliRunner()
CUSTOMERS = 200
DRIFT = 0.35


@dataclass
class DriftStack:
    settings: Settings
    env: dict[str, str]
    gateway_url: str
    #: attribute -> entities the generator made drift; (system, record id) -> entity.
    truth: dict[str, set[str]]
    entity_of_record: dict[tuple[str, str], str]
    simulators: dict[str, Simulator]
    simulator_urls: dict[str, str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriftStack]:
    data_dir = tmp_path_factory.mktemp("c360-reconcile")
    credentials = credentials_for(data_dir)
    generate(data_dir, customers=CUSTOMERS, seed=7, credentials=credentials, drift=DRIFT)
    simulators = open_simulators(data_dir, credentials)
    servers = {name: ThreadedServer(sim.app).start() for name, sim in simulators.items()}
    ports = {f"{name}_port": server.port for name, server in servers.items()}
    settings = Settings(data_dir=data_dir, sandbox=SandboxSettings(**ports))
    asyncio.run(_initial_match(settings))
    gateway = ThreadedServer(create_app(settings)).start()
    env = {"C360_DATA_DIR": str(data_dir), "C360_USE_SANDBOX": "true", "C360_LOG_LEVEL": "WARNING",
           **{f"C360_SANDBOX__{key.upper()}": str(port) for key, port in ports.items()}}
    truth: dict[str, set[str]] = defaultdict(set)
    with (data_dir / "sandbox" / "drift_truth.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            truth[row["attribute"]].add(row["entity"])
    with (data_dir / "sandbox" / "ground_truth.csv").open(newline="") as fh:
        entity_of_record = {(row["system"], row["record_id"]): row["entity"] for row in csv.DictReader(fh)}
    yield DriftStack(settings, env, gateway.url, dict(truth), entity_of_record, simulators,
                     {name: server.url for name, server in servers.items()})
    for server in [gateway, *servers.values()]:
        server.stop()


def reconcile(stack: DriftStack, *args: str) -> Any:
    result = runner.invoke(app, ["reconcile", *args], env=stack.env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def run_json(stack: DriftStack, *args: str) -> dict[str, Any]:
    output: str = reconcile(stack, "--json", *args).stdout
    data: dict[str, Any] = json.loads(output)
    return data


async def _links(settings: Settings) -> dict[str, set[tuple[str, str]]]:
    engine = create_engine(settings.resolved_database_url)
    try:
        found: dict[str, set[tuple[str, str]]] = defaultdict(set)
        async for link in XrefService(create_sessions(engine)).iter_links():
            found[link.customer_id].add((link.system.value, link.record_id))
        return found
    finally:
        await engine.dispose()


async def _rows(settings: Settings, model: Any) -> list[Any]:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessions(engine)() as session:
            return list(await session.scalars(select(model)))
    finally:
        await engine.dispose()


def entities_of(stack: DriftStack, customers: list[str]) -> set[str]:
    links = asyncio.run(_links(stack.settings))
    return {stack.entity_of_record[key] for customer in customers for key in links[customer]}


def test_the_match_links_each_generated_customer_whole(stack: DriftStack) -> None:
    """The premise of the comparison below: one golden customer per real-world one, no more, no less."""
    links = asyncio.run(_links(stack.settings))

    entities_per_customer = [{stack.entity_of_record[key] for key in keys} for keys in links.values()]
    assert all(len(entities) == 1 for entities in entities_per_customer)
    assert len(entities_per_customer) == len({e for es in entities_per_customer for e in es}) == CUSTOMERS


def test_reconcile_reports_exactly_the_drift_the_generator_put_in(stack: DriftStack) -> None:
    data = run_json(stack)

    assert sum(len(v) for v in stack.truth.values()) > 40  # enough drift to mean something
    for attribute in ATTRIBUTES:
        expected = stack.truth.get(attribute, set())
        assert data["checks"][attribute]["failing"] == len(expected), attribute
        assert entities_of(stack, data["failing_customers"][attribute]) == expected, attribute
    assert data["customers"] == CUSTOMERS
    assert data["checks"]["dangling_links"]["failing"] == 0
    # Every drifted customer has a system whose record differs from the survivorship value.
    for attribute in ATTRIBUTES:
        named = {c for ids in data["attribute_systems"][attribute].values() for c in ids}
        assert named == set(data["failing_customers"][attribute]), attribute


def test_the_table_csv_and_chart_show_the_run(stack: DriftStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "width", 120)
    csv_file, chart = tmp_path / "quality.csv", tmp_path / "drift.html"

    output = reconcile(stack, "--csv", str(csv_file), "--chart", str(chart)).stdout

    for check in (*CHECKS, "overall"):
        assert re.search(rf"^ {check}\s+\d", output, re.MULTILINE), check
    with csv_file.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    totals = {r["check"]: r for r in rows if not r["system"]}
    assert set(totals) == {*CHECKS, "overall"}
    assert int(totals["email"]["failing"]) == len(stack.truth.get("email", ()))
    assert {r["system"] for r in rows if r["check"] == "name" and r["system"]} == {"sharepoint", "teamwork", "quickbooks"}
    page = chart.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page
    series = json.loads(re.search(r'id="c360-drift-series">(.*?)</script>', page, re.DOTALL).group(1))  # type: ignore[union-attr]
    assert set(series["attributes"]) == set(ATTRIBUTES)
    assert series["attributes"]["email"]["all"][-1] == len(stack.truth.get("email", ()))
    assert len(series["runs"]) >= 2 and len(series["scores"]["overall"]) == len(series["runs"])


def test_a_dry_run_fix_lists_the_writes_and_changes_nothing(stack: DriftStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "width", 160)

    output = reconcile(stack, "--fix").stdout

    assert "Dry run: nothing was written" in output
    assert "Writes the repair makes" in output
    after = run_json(stack)
    assert {a: after["checks"][a]["failing"] for a in ATTRIBUTES} == {a: len(stack.truth.get(a, ())) for a in ATTRIBUTES}
    assert not [e for e in asyncio.run(_rows(stack.settings, AuditRecord)) if e.subject == "reconcile"]


def test_fix_apply_removes_every_drift_with_one_audited_write_per_repair(
    stack: DriftStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "width", 160)
    planned = run_json(stack, "--fix")
    assert [u for u in planned["unfixable"] if u["check"] in ATTRIBUTES] == []
    assert len(planned["planned_writes"]) == sum(len(v) for v in stack.truth.values())

    output = reconcile(stack, "--fix", "--apply").stdout

    assert "Data quality after the repairs" in output
    after = run_json(stack)
    for attribute in ATTRIBUTES:
        assert after["checks"][attribute]["failing"] == 0, attribute
        assert after["checks"][attribute]["score"] == 1.0
    audit = [e for e in asyncio.run(_rows(stack.settings, AuditRecord)) if e.subject == "reconcile"]
    writes = [e for e in audit if e.changes[0]["attribute"] != "links"]  # link repairs: see the tests below
    assert len(writes) == len(planned["planned_writes"])
    repaired = {(w["customer_id"], w["attribute"]) for w in planned["planned_writes"]}
    assert {(e.customer_id, e.changes[0]["attribute"]) for e in writes} == repaired
    for entry in writes:
        assert entry.mutation == "reconcile" and len(entry.changes) == 1
        assert {o["status"] for o in entry.outcomes.values()} == {"APPLIED"}


def test_fix_apply_sets_up_every_missing_customer_and_leaves_duplicates_to_a_steward(stack: DriftStack) -> None:
    """The run above also provisioned the generated customers missing in Teamwork or QuickBooks (one audit each)."""
    data = run_json(stack, "--fix")

    assert data["checks"]["missing"] == {"failing": 0, "checked": data["active_customers"], "score": 1.0}
    assert data["planned_link_repairs"] == []
    provisioned = [e for e in asyncio.run(_rows(stack.settings, AuditRecord))
                   if e.subject == "reconcile" and e.changes[0]["attribute"] == "links"]
    assert provisioned and all({o["status"] for o in e.outcomes.values()} <= {"CREATED", "LINKED"} for e in provisioned)
    # Every check but the steward's duplicates is at 100%; the duplicates are listed, with what to do.
    assert {name for name, c in data["checks"].items() if c["score"] < 1.0} == {"duplicates"}
    steward = [u for u in data["unfixable"] if u["check"] == "duplicates"]
    assert len({u["customer_id"] for u in steward}) == data["checks"]["duplicates"]["failing"]
    assert all(u["reason"] == "duplicates" and "unlinkRecord" in u["message"] for u in steward)


def test_a_second_fix_has_nothing_left_to_write(stack: DriftStack) -> None:
    data = run_json(stack, "--fix", "--apply")

    assert data["planned_writes"] == [] and data["planned_link_repairs"] == []
    assert {u["check"] for u in data["unfixable"]} == {"duplicates"}  # a steward's, not --fix's
    assert "after" not in data  # nothing was written, so nothing is read again
    output = reconcile(stack, "--fix").stdout
    assert "Not fixable automatically" in output and "duplicates:" in output


def test_history_shows_the_latest_stored_run_without_reading_the_systems(stack: DriftStack) -> None:
    stored = run_json(stack, "--history")
    latest = max(asyncio.run(_rows(stack.settings, ReconcileRun)), key=lambda r: r.id)

    assert stored["run_id"] == latest.id and stored["checks"] == latest.summary["checks"]
    assert "failing_customers" not in stored  # ids are never stored


def test_apply_without_fix_is_refused(stack: DriftStack) -> None:
    result = runner.invoke(app, ["reconcile", "--apply"], env=stack.env)

    assert result.exit_code == 2


def test_stored_runs_hold_counts_only_and_answer_data_quality(stack: DriftStack) -> None:
    runs = asyncio.run(_rows(stack.settings, ReconcileRun))
    assert runs and {r.kind for r in runs} == {"check", "fix"}
    customer_ids = asyncio.run(_links(stack.settings))
    for run in runs:
        check_counts_only(run.summary)
        text = json.dumps(run.summary)
        assert not any(customer in text for customer in customer_ids)
        assert "@" not in text

    query = """{ dataQuality { id kind customers overall { score } checks { check failing checked score }
                 attributes { attribute drifted systems { system count } } }
                 dataQualityRuns(last: 3) { id overall { score } } }"""
    body = httpx.post(f"{stack.gateway_url}/graphql", json={"query": query}, timeout=30).json()

    assert "errors" not in body, body
    latest = body["data"]["dataQuality"]
    assert latest["id"] == str(max(r.id for r in runs)) and latest["customers"] == CUSTOMERS
    assert {c["check"] for c in latest["checks"]} == set(CHECKS)
    assert all(a["drifted"] == 0 for a in latest["attributes"])  # the run after the repairs
    assert [r["id"] for r in body["data"]["dataQualityRuns"]] == [str(r.id) for r in sorted(runs, key=lambda r: r.id)][-3:]


def test_sandbox_generate_drift_writes_the_drift_truth(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sandbox", "generate", "--customers", "60", "--seed", "3", "--drift", "0.5"],
                           env={"C360_DATA_DIR": str(tmp_path)})

    assert result.exit_code == 0, result.output
    rows = (tmp_path / "sandbox" / "drift_truth.csv").read_text().splitlines()
    assert rows[0] == "entity,attribute,systems" and len(rows) > 5
    assert "drifted: email" in result.output
    assert runner.invoke(app, ["sandbox", "generate", "--drift", "2"], env={"C360_DATA_DIR": str(tmp_path)}).exit_code == 2


def test_a_system_that_cannot_be_read_stops_the_run_and_stores_nothing(stack: DriftStack) -> None:
    before = len(asyncio.run(_rows(stack.settings, ReconcileRun)))
    env = {**stack.env, "C360_SANDBOX__TEAMWORK_PORT": "9",  # nothing listens there
           "C360_SOURCES__DEFAULTS__MAX_ATTEMPTS": "2"}

    result = runner.invoke(app, ["reconcile"], env=env)

    assert result.exit_code == 1
    assert "nothing was stored" in result.output
    assert len(asyncio.run(_rows(stack.settings, ReconcileRun))) == before


# --- link repairs: records deleted in their system, active customers missing in one ----------------


def create_directly(stack: DriftStack, system: SystemName, changes: RecordChanges) -> SourceRecord:
    """A record made in the system itself, as a person in its UI would (the index does not know it)."""
    async def make() -> SourceRecord:
        connectors = open_connectors(effective_sources(stack.settings))
        try:
            return await connectors[system].create(changes)
        finally:
            await close_connectors(connectors)

    return asyncio.run(make())


def delete_teamwork_company(stack: DriftStack, company_id: str) -> None:
    """Deleted through Teamwork's own API, as a person or another integration would."""
    credentials = credentials_for(stack.settings.data_dir)
    response = httpx.delete(f"{stack.simulator_urls['teamwork']}/companies/{company_id}.json",
                            auth=(credentials.teamwork_api_key, "X"), timeout=10)
    assert response.status_code in (200, 204), response.text


def teamwork_companies(stack: DriftStack, name: str) -> list[dict[str, Any]]:
    return [c for c in stack.simulators["teamwork"].store.collection("companies").all() if c.get("name") == name]


def quickbooks_customers(stack: DriftStack, name: str) -> list[dict[str, Any]]:
    return [c for c in stack.simulators["quickbooks"].store.collection("customers").all()
            if c.get("DisplayName") == name]


def xref_call(stack: DriftStack, call: Any) -> Any:
    async def run() -> Any:
        engine = create_engine(stack.settings.resolved_database_url)
        try:
            return await call(XrefService(create_sessions(engine)))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def customer(stack: DriftStack, customer_id: str) -> CustomerInfo:
    found: CustomerInfo | None = xref_call(stack, lambda xref: xref.get(customer_id))
    assert found is not None
    return found


def audit_of(stack: DriftStack, customer_id: str) -> list[AuditRecord]:
    return [e for e in asyncio.run(_rows(stack.settings, AuditRecord))
            if e.customer_id == customer_id and e.subject == "reconcile"]


def gql(stack: DriftStack, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = httpx.post(f"{stack.gateway_url}/graphql", json={"query": query, "variables": variables},
                                      timeout=60).json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def unique_values(label: str) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    digits = int(tag, 16)
    return {"name": f"Zq{tag} {label} Works", "email": f"ops@zq{tag}.example",
            "phone": f"+1 503 {200 + digits % 700} {1000 + digits % 9000}",
            "address": {"line1": f"{10 + digits % 900} Zq{tag} Lane", "city": "Portland", "state": "OR",
                        "postalCode": "97204", "country": "US"}}


def test_a_link_to_a_deleted_record_is_removed_audited_and_its_customer_retired(stack: DriftStack) -> None:
    record = create_directly(stack, SystemName.TEAMWORK, RecordChanges(name="Zq Lonely Kite Works",
                                                                       email="ops@zq-lonely-kite.example"))
    outcome = xref_call(stack, lambda xref: xref.link_record(SystemName.TEAMWORK, record.id, None, confidence=1.0,
                                                             evidence={}, decided_by="test"))
    lone = outcome.customer_id
    delete_teamwork_company(stack, record.id)

    found = run_json(stack, "--fix")

    assert found["checks"]["dangling_links"]["failing"] == 1
    assert found["failing_customers"]["dangling_links"] == [lone]
    assert found["planned_link_repairs"] == [
        {"customer_id": lone, "unlink": [{"system": "teamwork", "record_id": record.id}], "provision": []}]
    assert audit_of(stack, lone) == [] and customer(stack, lone).links  # a dry run

    fixed = run_json(stack, "--fix", "--apply")

    [done] = fixed["link_repairs"]
    assert done["customer_id"] == lone and done["retired"]
    assert [(s["action"], s["system"], s["record_id"], s["status"]) for s in done["steps"]] == [
        ("unlink", "teamwork", record.id, "UNLINKED")]
    [entry] = audit_of(stack, lone)
    assert entry.mutation == "reconcile" and entry.id in done["audit_ids"]
    assert entry.changes == [{"attribute": "links", "before": [f"teamwork:{record.id}"], "after": []},
                             {"attribute": "customer", "before": "active", "after": "retired"}]
    assert entry.outcomes[f"teamwork:{record.id}"]["status"] == "UNLINKED"
    assert "Lonely" not in json.dumps([entry.changes, entry.outcomes]) and "@" not in json.dumps(entry.outcomes)
    gone = customer(stack, lone)
    assert gone.links == () and gone.retired_at is not None  # no links left: retired, nothing to merge into
    assert fixed["after"]["checks"]["dangling_links"] == {"failing": 0, "checked": CUSTOMERS, "score": 1.0}
    assert run_json(stack)["checks"]["dangling_links"]["score"] == 1.0


def test_a_deleted_record_of_an_active_customer_is_unlinked_and_set_up_again_once(stack: DriftStack) -> None:
    query = "{ customers(first: 100) { edges { node { id status sourceRecords { system id } } } } }"
    duplicated = set(run_json(stack)["failing_customers"]["duplicates"])
    chosen = next(
        (node["id"], tw[0]) for edge in gql(stack, query)["customers"]["edges"]
        if (node := edge["node"])["status"] == "ACTIVE" and node["id"] not in duplicated
        and len(tw := [r["id"] for r in node["sourceRecords"] if r["system"] == "TEAMWORK"]) == 1
        and len(node["sourceRecords"]) >= 2
    )
    customer_id, company_id = chosen
    name = stack.simulators["teamwork"].store.collection("companies").get(int(company_id))["name"]
    assert len(teamwork_companies(stack, name)) == 1
    delete_teamwork_company(stack, company_id)

    planned = run_json(stack, "--fix")

    assert planned["failing_customers"]["dangling_links"] == [customer_id]
    assert planned["planned_link_repairs"] == [{"customer_id": customer_id, "provision": ["teamwork"],
                                                "unlink": [{"system": "teamwork", "record_id": company_id}]}]

    fixed = run_json(stack, "--fix", "--apply")

    [done] = fixed["link_repairs"]
    assert [(s["action"], s["status"]) for s in done["steps"]] == [("unlink", "UNLINKED"), ("provision", "CREATED")]
    [recreated] = teamwork_companies(stack, name)
    links = {(link.system, link.record_id) for link in customer(stack, customer_id).links}
    assert (SystemName.TEAMWORK, str(recreated["id"])) in links and (SystemName.TEAMWORK, company_id) not in links
    assert len(audit_of(stack, customer_id)) == 2 == len(done["audit_ids"])  # the unlink, the provisioning
    after = fixed["after"]["checks"]
    assert after["dangling_links"]["score"] == after["missing"]["score"] == 1.0
    assert run_json(stack, "--fix", "--apply")["planned_link_repairs"] == []
    assert len(teamwork_companies(stack, name)) == 1


def test_an_active_crm_customer_missing_elsewhere_is_linked_or_created_there_once(stack: DriftStack) -> None:
    values = unique_values("Harbor")
    create = """mutation C($input: CustomerInput!) { createCustomer(input: $input) {
                  __typename ... on CustomerCreated { system customer { id } } } }"""
    made = gql(stack, create, {"input": {**values, "status": "ACTIVE"}})["createCustomer"]
    assert made["__typename"] == "CustomerCreated" and made["system"] == "SHAREPOINT"
    customer_id = made["customer"]["id"]
    # Someone set the customer up in Teamwork by hand; the index does not know that record.
    address = values["address"]
    by_hand = create_directly(stack, SystemName.TEAMWORK, RecordChanges(
        name=values["name"], email=values["email"], phone=values["phone"],
        address=Address(address["line1"], None, address["city"], address["state"], address["postalCode"], "US")))
    name = values["name"]
    assert (len(teamwork_companies(stack, name)), len(quickbooks_customers(stack, name))) == (1, 0)

    planned = run_json(stack, "--fix")

    assert customer_id in planned["failing_customers"]["missing"]
    assert planned["planned_link_repairs"] == [
        {"customer_id": customer_id, "unlink": [], "provision": ["teamwork", "quickbooks"]}]

    fixed = run_json(stack, "--fix", "--apply")

    [done] = fixed["link_repairs"]
    assert {(s["system"], s["status"]) for s in done["steps"]} == {("teamwork", "LINKED"), ("quickbooks", "CREATED")}
    assert (len(teamwork_companies(stack, name)), len(quickbooks_customers(stack, name))) == (1, 1)
    [qb] = quickbooks_customers(stack, name)
    links = {(link.system, link.record_id) for link in customer(stack, customer_id).links}
    assert {(SystemName.TEAMWORK, by_hand.id), (SystemName.QUICKBOOKS, str(qb["Id"]))} <= links
    [entry] = audit_of(stack, customer_id)
    assert entry.mutation == "reconcile" and entry.changes[0]["attribute"] == "links"
    assert {o["status"] for o in entry.outcomes.values()} == {"LINKED", "CREATED"}
    assert fixed["after"]["checks"]["missing"]["score"] == 1.0

    again = run_json(stack, "--fix", "--apply")

    assert again["planned_link_repairs"] == [] and "after" not in again
    assert (len(teamwork_companies(stack, name)), len(quickbooks_customers(stack, name))) == (1, 1)
    assert len(audit_of(stack, customer_id)) == 1
