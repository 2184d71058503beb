"""`python -m bench.write`: the load's customer slices, the outcome count, and a tiny run end to end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import orjson
import pytest

from bench._load import Reply
from bench.write import Updates, main, outcome_figures

KEYS = {"update_p50_ms", "update_p95_ms", "update_p99_ms", "updates_per_s", "load_p50_ms", "load_p95_ms",
        "outcomes", "upstream_per_update_by_system", "acceptance", "acceptance_met", "scenarios"}


async def test_each_load_worker_updates_customers_no_other_worker_does() -> None:
    last_sent: dict[str, int] = {}
    updates = Updates([f"c{i}" for i in range(7)], 100, "run", last_sent, slices=3)
    sent: dict[int, set[str]] = {}

    async def worker(w: int) -> None:
        for _ in range(5):
            sent.setdefault(w, set()).add(updates(0)["variables"]["id"])
            await asyncio.sleep(0)

    await asyncio.gather(*(worker(w) for w in range(3)))

    assert all(a.isdisjoint(b) for a in sent.values() for b in sent.values() if a is not b)
    assert set().union(*sent.values()) == {f"c{i}" for i in range(7)}


def test_outcomes_count_statuses_and_report_other_results_as_errors() -> None:
    def reply(result: dict[str, object]) -> Reply:
        return Reply(0.1, 200, raw=orjson.dumps({"data": {"updateCustomer": result}}))

    updated = {"__typename": "CustomerUpdated", "replayed": False,
               "outcomes": [{"system": "SHAREPOINT", "status": "APPLIED"}, {"system": "TEAMWORK", "status": "PENDING",
                                                                            "code": "SOURCE_UNAVAILABLE"}]}
    failed = {"__typename": "WriteFailed", "message": "refused", "outcomes": [{"system": "QUICKBOOKS", "status": "FAILED"}]}

    figures = outcome_figures([reply(updated), reply(failed), Reply(0.1, 0, transport_error="reset")])

    assert figures["result_types"] == {"CustomerUpdated": 1, "WriteFailed": 1, "TRANSPORT": 1}
    assert figures["outcomes"] == {"APPLIED": 1, "PENDING": 1, "FAILED": 1}
    assert figures["outcome_codes"] == {"teamwork SOURCE_UNAVAILABLE": 1}
    assert figures["errors"] == 2 and "refused" in figures["first_update_error"]


def test_bench_write_ends_with_one_json_line_of_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--customers", "40", "--warmup", "1", "--serial-requests", "4", "--requests", "12", "--concurrency", "4",
            "--read-back", "3", "--seconds", "20", "--keep", str(tmp_path)]
    assert main(argv) == 0

    result = json.loads(capsys.readouterr().out.rstrip("\n").splitlines()[-1])
    assert KEYS <= result.keys()
    assert result["update_p50_ms"] > 0 and result["updates_per_s"] > 0
    assert result["update_errors"] == 0 and result["read_back_mismatches"] == 0
    assert result["outcomes"]["load"] == {"APPLIED": 36}
    # A customer just viewed is written with the version tokens the gateway holds: one call per
    # system. One nobody read recently costs a read first.
    assert result["upstream_per_update_by_system"] == {"sharepoint": 1.0, "teamwork": 1.0, "quickbooks": 1.0}
    assert result["upstream_per_cold_update_by_system"] == {"sharepoint": 2.0, "teamwork": 2.0, "quickbooks": 2.0}
    assert {"met", "target", "value"} <= result["acceptance"]["update_p50_ms"].keys()
