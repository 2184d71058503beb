"""`c360 reconcile` over real HTTP: generated data with known drift, the three simulators, the initial match.

The drift the generator put in (drift_truth.csv) is what the run must report, customer for
customer; `--fix --apply` must remove all of it through the write path, one audited write
per repair; the run summaries stored hold counts only and feed `dataQuality`.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway._console import console
from gateway.app import create_app
from gateway.cli import app
from gateway.config import SandboxSettings, Settings
from resolvers.reconcile import ATTRIBUTES, CHECKS
from sandbox._server import ThreadedServer
from sandbox.generate import generate
from sandbox.runtime import credentials_for, open_simulators
from tests.gateway.conftest import _initial_match
from xref import AuditRecord, ReconcileRun, XrefService, create_engine, create_sessions
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
    yield DriftStack(settings, env, gateway.url, dict(truth), entity_of_record)
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
    assert planned["unfixable"] == []
    assert len(planned["planned_writes"]) == sum(len(v) for v in stack.truth.values())

    output = reconcile(stack, "--fix", "--apply").stdout

    assert "Data quality after the repairs" in output
    after = run_json(stack)
    for attribute in ATTRIBUTES:
        assert after["checks"][attribute]["failing"] == 0, attribute
        assert after["checks"][attribute]["score"] == 1.0
    audit = [e for e in asyncio.run(_rows(stack.settings, AuditRecord)) if e.subject == "reconcile"]
    assert len(audit) == len(planned["planned_writes"])
    repaired = {(w["customer_id"], w["attribute"]) for w in planned["planned_writes"]}
    assert {(e.customer_id, e.changes[0]["attribute"]) for e in audit} == repaired
    for entry in audit:
        assert entry.mutation == "reconcile" and len(entry.changes) == 1
        assert {o["status"] for o in entry.outcomes.values()} == {"APPLIED"}


def test_a_second_fix_has_nothing_left_to_write(stack: DriftStack) -> None:
    data = run_json(stack, "--fix", "--apply")

    assert data["planned_writes"] == [] and data["unfixable"] == []
    assert "after" not in data  # nothing was written, so nothing is read again


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
