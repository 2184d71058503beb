"""Smoke test of `python -m bench.read`: a tiny setup end to end, JSON on the last line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.read import main

KEYS = {"one_uncached_p50_ms", "one_uncached_p99_ms", "one_cached_rps", "one_cached_p99_ms",
        "page100_uncached_p50_ms", "page100_upstream_requests", "outage_p50_ms", "acceptance", "scenarios"}


@pytest.mark.slow
def test_bench_read_ends_with_one_json_line_of_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--customers", "40", "--requests", "12", "--serial-requests", "4", "--cached-requests", "40",
            "--warmup", "4", "--page-requests", "2", "--probe-requests", "1", "--outage-requests", "8",
            "--concurrency", "4", "--cached-concurrency", "8", "--seconds", "20", "--keep", str(tmp_path)]
    assert main(argv) == 0

    last = capsys.readouterr().out.rstrip("\n").splitlines()[-1]
    result = json.loads(last)
    assert KEYS <= result.keys()
    assert result["customers"] == 40
    assert set(result["page100_upstream_requests"]) == {
        "sharepoint/records", "sharepoint/documents", "teamwork/records", "teamwork/projects",
        "quickbooks/records", "quickbooks/invoices",
    }
    assert result["one_uncached_p50_ms"] > 0 and result["one_cached_rps"] > 0
    assert result["scenarios"]["outage"]["answered"] == result["scenarios"]["outage"]["requests"]
    assert {"met", "target", "value"} <= result["acceptance"]["one_uncached_p50_ms"].keys()
