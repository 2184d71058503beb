"""The `c360` command line: clear errors, config-driven sandbox faults, and the commands a user runs first."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import _sandbox_faults, app
from gateway.config import Settings
from resolvers import schema

runner = CliRunner()


def test_export_schema_writes_the_sdl_of_the_code(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    result = runner.invoke(app, ["export-schema", "--output", str(out)])
    assert result.exit_code == 0
    assert out.read_text() == schema.as_str() + "\n"


def test_sandbox_faults_come_from_config_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_SANDBOX__FAULTS__QUICKBOOKS__LATENCY_MS", "50")
    monkeypatch.setenv("C360_SANDBOX__FAULTS__QUICKBOOKS__ERROR_RATE", "0.1")
    faults = _sandbox_faults(Settings(), None, documented_limits=True)
    assert faults["quickbooks"].latency_ms == 50
    assert faults["quickbooks"].error_rate == 0.1
    assert faults["quickbooks"].max_concurrent == 10
    assert faults["teamwork"].rate_limit_per_minute == 150
    assert faults["sharepoint"].latency_ms == 0


def test_invalid_fault_config_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_SANDBOX__FAULTS__QUICKBOOKS__ERROR_RATE", "7")
    result = runner.invoke(app, ["sandbox", "--empty"])
    assert result.exit_code == 2
    assert "invalid fault settings for quickbooks" in result.output
    assert "Traceback" not in result.output


def test_bad_configuration_is_reported_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_PORT", "not-a-port")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "configuration error" in result.output and "port" in result.output


def test_production_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_ENV", "production")
    monkeypatch.setenv("C360_USE_SANDBOX", "false")
    monkeypatch.setenv("C360_SOURCES__QUICKBOOKS__CLIENT_SECRET", "changeme")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "sources.quickbooks.client_secret" in result.output
    assert "changeme" not in result.output


def test_generate_writes_three_systems_and_the_ground_truth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["sandbox", "generate", "--customers", "20", "--seed", "3"])
    assert result.exit_code == 0, result.output
    for name in ("sharepoint", "teamwork", "quickbooks"):
        assert (tmp_path / "sandbox" / f"{name}.sqlite3").exists()
    rows = (tmp_path / "sandbox" / "ground_truth.csv").read_text().splitlines()
    assert rows[0] == "entity,system,record_id" and len(rows) > 20


def test_export_refuses_an_unknown_format() -> None:
    result = runner.invoke(app, ["xref", "export", "--format", "xml"])
    assert result.exit_code == 2
    assert "--format must be csv or json" in result.output


def test_dry_run_changes_are_shown_and_written_to_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from connectors import SystemName
    from gateway.cli import _show_changes
    from xref._types import LinkChange

    changes = [
        LinkChange("move", SystemName.QUICKBOOKS, "58", "cus_a", "cus_b"),
        LinkChange("remove", SystemName.TEAMWORK, "9", "cus_c", None),
    ]
    out = tmp_path / "changes.csv"

    _show_changes(changes, out)

    rows = out.read_text().splitlines()
    assert rows == [
        "change,system,record_id,customer_before,customer_after",
        "move,quickbooks,58,cus_a,cus_b",
        "remove,teamwork,9,cus_c,",
    ]
