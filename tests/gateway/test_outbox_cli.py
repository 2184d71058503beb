"""`c360 outbox`: list, retry, drop and count the writes still owed to a system, on the settings' database."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gateway._console import console
from gateway.cli import app
from gateway.outbox_cli import _due
from xref import Outbox, OutboxEntry, create_engine, create_sessions, upgrade

runner = CliRunner()


@dataclass
class Queued:
    pending: OutboxEntry
    dead: OutboxEntry
    applied: OutboxEntry
    other_customer: OutboxEntry


def _database(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{data_dir / 'c360.sqlite3'}"


async def _on_outbox(data_dir: Path, work: Any) -> Any:
    engine = create_engine(_database(data_dir))
    try:
        await upgrade(engine)
        return await work(Outbox(create_sessions(engine)))
    finally:
        await engine.dispose()


def on_outbox(data_dir: Path, work: Any) -> Any:
    return asyncio.run(_on_outbox(data_dir, work))


async def _queue(outbox: Outbox) -> Queued:
    async def enqueue(customer: str, record: str, **changes: Any) -> OutboxEntry:
        return await outbox.enqueue(mutation_id=f"m-{record}", system="quickbooks", action="update",
                                    customer_id=customer, record_id=record, payload={"changes": changes})

    pending = await enqueue("cus_a", "100", email="new@acme.test")
    pending = await outbox.reschedule(pending.id, "quickbooks is unavailable: HTTP 503\nretry later", delay_s=30)
    dead = await enqueue("cus_a", "101", name="Acme", phone="+1 415 555 0100")
    dead = await outbox.dead_letter(dead.id, "[quickbooks] 6240 refused the change: Duplicate Name Exists Error " + "x" * 80)
    applied = await enqueue("cus_a", "102", website="acme.test")
    applied = await outbox.mark_applied(applied.id)
    other = await enqueue("cus_b", "200", email="b@b.test")
    return Queued(pending=pending, dead=dead, applied=applied, other_customer=other)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("C360_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("C360_DATABASE_URL", raising=False)
    return tmp_path


@pytest.fixture
def queued(data_dir: Path) -> Queued:
    result: Queued = on_outbox(data_dir, _queue)
    return result


def invoke(*args: str, input: str | None = None) -> Any:
    result = runner.invoke(app, ["outbox", *args], input=input)
    assert "Traceback" not in result.output
    return result


def listed(*args: str) -> list[dict[str, Any]]:
    result = invoke("list", "--json", *args)
    assert result.exit_code == 0, result.output
    entries: list[dict[str, Any]] = json.loads(result.output)
    return entries


def test_list_shows_every_entry_in_a_table(queued: Queued, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "width", 200)  # a wide terminal: one line per entry
    result = invoke("list")
    assert result.exit_code == 0, result.output
    for column in ("id", "system", "record", "action", "status", "attempts", "customer", "created"):
        assert column in result.output
    for entry in (queued.pending, queued.dead, queued.applied, queued.other_customer):
        assert entry.id in result.output
    assert "quickbooks is unavailable: HTTP 503" in result.output
    assert "retry later" not in result.output  # only the first line of an error
    assert "[quickbooks] 6240 refused" in result.output  # brackets in an error are text, not markup
    assert "x" * 80 not in result.output  # long errors are shortened
    assert " due " in result.output  # the other customer's entry: never tried, due at once


def test_next_attempt_is_shown_relative_to_now(queued: Queued) -> None:
    at = queued.pending.next_attempt_at
    pending = replace(queued.pending, next_attempt_at=at + timedelta(hours=2, minutes=5, seconds=9))
    assert _due(pending, at) == "in 2h 5m"
    assert _due(replace(pending, next_attempt_at=at + timedelta(seconds=42)), at) == "in 42s"
    assert _due(pending, at + timedelta(hours=3)) == "due"
    assert _due(queued.dead, at) == "-"


def test_list_filters_by_status_and_customer_and_prints_json(queued: Queued) -> None:
    [dead] = listed("--status", "dead")
    assert dead["id"] == queued.dead.id
    assert dead["last_error"].endswith("x" * 80)  # JSON keeps the whole error
    assert dead["attributes"] == ["name", "phone"]
    assert "Acme" not in json.dumps(dead)  # attribute names, not values

    assert [e["id"] for e in listed("--customer", "cus_a")] == [queued.pending.id, queued.dead.id, queued.applied.id]
    assert [e["id"] for e in listed("--customer", "cus_a", "--status", "pending", "--limit", "5")] == [queued.pending.id]
    [first] = listed("--limit", "1")
    assert first["id"] == queued.pending.id and first["attempts"] == 1 and first["status"] == "pending"


def test_list_refuses_an_unknown_status(queued: Queued) -> None:
    result = invoke("list", "--status", "stuck")
    assert result.exit_code == 2
    assert "--status must be one of pending, applied, dead" in result.output


def test_list_of_an_empty_or_new_database_says_so(data_dir: Path) -> None:
    result = invoke("list")
    assert result.exit_code == 0, result.output
    assert "No outbox entries." in result.output
    assert (data_dir / "c360.sqlite3").exists()  # created and migrated like `c360 match` does


def test_retry_makes_a_dead_entry_due_now_with_a_fresh_count(queued: Queued, data_dir: Path) -> None:
    result = invoke("retry", queued.dead.id)
    assert result.exit_code == 0, result.output
    assert "pending again" in result.output
    entry = on_outbox(data_dir, lambda outbox: outbox.get(queued.dead.id))
    assert entry.status == "pending" and entry.attempts == 0
    assert entry.next_attempt_at <= entry.updated_at


def test_retry_all_dead_revives_every_dead_entry(queued: Queued, data_dir: Path) -> None:
    async def another_dead(outbox: Outbox) -> None:
        entry = await outbox.enqueue(mutation_id="m", system="teamwork", action="update", payload={"changes": {}})
        await outbox.dead_letter(entry.id, "refused")

    on_outbox(data_dir, another_dead)
    result = invoke("retry", "--all-dead")
    assert result.exit_code == 0, result.output
    assert "2 dead entries are pending again" in result.output
    assert listed("--status", "dead") == []
    assert len(listed("--status", "pending")) == 4


def test_retry_of_an_unknown_or_applied_entry_is_a_clear_error(queued: Queued) -> None:
    result = invoke("retry", "no-such-id")
    assert result.exit_code == 1
    assert "no outbox entry has id 'no-such-id'" in result.output

    result = invoke("retry", queued.applied.id)
    assert result.exit_code == 1
    assert "already applied" in result.output


def test_retry_needs_an_id_or_all_dead_but_not_both(queued: Queued) -> None:
    assert invoke("retry").exit_code == 2
    assert invoke("retry", queued.dead.id, "--all-dead").exit_code == 2


def test_drop_asks_first_and_deletes_the_entry(queued: Queued) -> None:
    result = invoke("drop", queued.pending.id, input="n\n")
    assert result.exit_code == 1  # aborted
    assert "email" in result.output  # the question says what would be lost
    assert queued.pending.id in {e["id"] for e in listed()}

    result = invoke("drop", queued.pending.id, input="y\n")
    assert result.exit_code == 0, result.output
    assert queued.pending.id not in {e["id"] for e in listed()}


def test_drop_with_yes_does_not_ask(queued: Queued) -> None:
    result = invoke("drop", queued.dead.id, "--yes")
    assert result.exit_code == 0, result.output
    assert f"dropped {queued.dead.id}" in result.output
    assert queued.dead.id not in {e["id"] for e in listed()}


def test_drop_of_an_unknown_entry_is_a_clear_error(queued: Queued) -> None:
    result = invoke("drop", "no-such-id", "--yes")
    assert result.exit_code == 1
    assert "no outbox entry has id 'no-such-id'" in result.output


def test_stats_counts_entries_per_status(queued: Queued) -> None:
    result = invoke("stats", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"pending": 2, "applied": 1, "dead": 1}

    table = invoke("stats")
    assert table.exit_code == 0
    assert "pending" in table.output and "dead" in table.output


def test_an_unreachable_database_is_a_clear_error_without_its_password(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("C360_DATABASE_URL", "postgresql+asyncpg://c360:hunter2@127.0.0.1:1/c360")
    result = invoke("stats")
    assert result.exit_code == 1
    assert "xref database postgresql+asyncpg://c360:***@127.0.0.1:1/c360" in result.output
    assert "hunter2" not in result.output
