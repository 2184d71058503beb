"""`python -m bench.reconcile`: a tiny run end to end, ending with one JSON line of figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.reconcile import main

KEYS = {"reconcile_seconds", "reconcile_first_seconds", "reconcile_wall_seconds", "reconcile_peak_rss_mb",
        "reconcile_customers", "reconcile_records", "reconcile_overall_score", "reconcile_checks", "match_seconds"}


@pytest.mark.slow  # four child processes (simulators, match, two reconciles): about 15 s
def test_bench_reconcile_ends_with_one_json_line_of_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--customers", "40", "--latency-ms", "0", "--keep", str(tmp_path)]) == 0

    result = json.loads(capsys.readouterr().out.rstrip("\n").splitlines()[-1])
    assert KEYS <= result.keys()
    assert result["reconcile_customers"] >= 40 and result["reconcile_records"] > 40
    assert 0 < result["reconcile_seconds"] <= result["reconcile_wall_seconds"]
    assert "reconcile_10k_seconds" not in result  # only a 10,000-customer run gives that figure
