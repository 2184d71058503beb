"""Smoke test of `python -m bench.match`: a tiny size end to end, JSON on the last line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.match import main

KEYS = {"customers", "records", "precision", "recall", "f1", "review_fraction", "seconds", "records_per_s",
        "peak_rss_mb", "sandbox_rss_mb", "sizes", "acceptance"}


@pytest.mark.slow
def test_bench_match_ends_with_one_json_line_of_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sizes", "120,200", "--keep", str(tmp_path)]) == 0

    last = capsys.readouterr().out.rstrip("\n").splitlines()[-1]
    result = json.loads(last)
    assert KEYS <= result.keys()
    assert [size["customers"] for size in result["sizes"]] == [120, 200]
    assert result["customers"] == 200 and result["records"] > 200
    assert 0.0 <= result["precision"] <= 1.0 and 0.0 <= result["recall"] <= 1.0
    assert result["acceptance"]["precision_at_10k"]["met"] is None  # that size did not run
