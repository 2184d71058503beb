"""`python -m bench.events` end to end on a small data set: the figures and the last JSON line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.events import main, percentile_ms

KEYS = {"event_visible_p50_ms", "event_visible_p95_ms", "reconcile_10k_seconds", "poll_visible_p50_ms",
        "events_missed", "event_visible_by_system"}


def test_percentiles_are_nearest_rank_in_ms() -> None:
    assert percentile_ms([0.3, 0.1, 0.2], 50) == 200.0
    assert percentile_ms([0.3, 0.1, 0.2], 95) == 300.0
    assert percentile_ms([], 50) is None


@pytest.mark.slow
def test_bench_events_ends_with_one_json_line_of_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--customers", "40", "--events", "2", "--poll-events", "1", "--poll-interval-s", "1",
            "--no-reconcile", "--keep", str(tmp_path)]
    assert main(argv) == 0

    result = json.loads(capsys.readouterr().out.rstrip("\n").splitlines()[-1])
    assert KEYS <= result.keys()
    assert result["events_missed"] == 0
    assert set(result["event_visible_by_system"]) == {"sharepoint", "teamwork", "quickbooks"}
    # Visible through a cached view only by the event: QuickBooks batches its notifications
    # (500 ms), and polling every second shows a change within about one interval.
    assert result["event_visible_by_system"]["quickbooks"]["p50_ms"] >= 400
    assert 0 < result["poll_visible_p50_ms"] <= 3000
