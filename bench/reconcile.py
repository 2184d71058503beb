"""Benchmark of reconciliation: `python -m bench.reconcile [--customers 10000]`.

Setup as in `bench.read`: seeded data (reused with --keep), the three simulators in a child
process with 50 ms added to every API call, the initial match (`c360 match`). Then
`c360 reconcile --json` runs in a child process of its own (so its memory is its own): it
reads every record of every system through the connectors (paged, the three systems at
once), checks every customer and stores the run's counts. Twice: the second run is the
steady state (the first one also creates the run-summary table on a fresh index).

`reconcile_seconds` is the run's own time, reading and checking (what the stored summary
says); the wall time adds the process start. `reconcile_figures` is what `bench.events`
calls for its `reconcile_10k_seconds`.

Prints a table, and as the very last line one JSON object with the figures, among them
`reconcile_10k_seconds` when the data set has 10,000 customers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

import psutil
from rich import box
from rich.table import Table

from bench._args import add_data_arguments, add_keep_argument, report_console, write_result_line
from bench._args import data_dir as bench_data_dir
from bench._data import prepare_data
from bench._gateway import sandbox_env
from bench.read import LATENCY_MS, LatencySandbox, run_match

#: A 100k-customer reconcile reads ~230k records; leave ample room.
RECONCILE_TIMEOUT_S = 1800.0


class _PeakRss:
    """Samples a child's resident memory every 50 ms; `peak_mb` is the highest seen (a sampled peak)."""

    def __init__(self, pid: int) -> None:
        self._proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._proc.memory_info().rss)
            except psutil.Error:
                return
            self._stop.wait(0.05)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak / 2**20, 1)


def reconcile_once(env: Mapping[str, str], data_dir: Path, log: TextIO, label: str = "reconcile") -> dict[str, Any]:
    """`c360 reconcile --json` in a child process: the run's JSON, its wall seconds and sampled peak RSS."""
    log_path = data_dir / f"bench-{label}.log"
    started = time.perf_counter()
    with log_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "reconcile", "--json"],
            env={**os.environ, **env, "COLUMNS": "120"},
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
        )
        sampler = _PeakRss(proc.pid)
        try:
            out, _ = proc.communicate(timeout=RECONCILE_TIMEOUT_S)
        finally:
            peak = sampler.stop()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    wall = round(time.perf_counter() - started, 2)
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"c360 reconcile failed with code {proc.returncode}:\n{tail}")
    run: dict[str, Any] = json.loads(out)
    log.write(f"   {label}: {run['seconds']:.1f}s in the run, {wall:.1f}s wall, peak RSS {peak:.0f} MB\n")
    return {"run": run, "wall_seconds": wall, "peak_rss_mb": peak}


def reconcile_figures(env: Mapping[str, str], data_dir: Path, log: TextIO) -> dict[str, Any]:
    """Reconcile twice over a matched sandbox (`env` points the CLI at it); the figures of the second run."""
    first = reconcile_once(env, data_dir, log, "reconcile-first")
    second = reconcile_once(env, data_dir, log, "reconcile")
    run = second["run"]
    return {
        "reconcile_seconds": run["seconds"],
        "reconcile_first_seconds": first["run"]["seconds"],
        "reconcile_wall_seconds": second["wall_seconds"],
        "reconcile_peak_rss_mb": second["peak_rss_mb"],
        "reconcile_customers": run["customers"],
        "reconcile_records": sum(run["records"].values()),
        "reconcile_records_per_second": round(sum(run["records"].values()) / run["seconds"]) if run["seconds"] else None,
        "reconcile_overall_score": run["overall"]["score"],
        "reconcile_checks": {name: check["score"] for name, check in run["checks"].items()},
        "reconcile_planned_writes": run["repairs"]["writes"],
    }


def measure(args: argparse.Namespace, data_dir: Path, log: TextIO) -> dict[str, Any]:
    data_dir.mkdir(parents=True, exist_ok=True)
    log.write(f"== reconcile, {args.customers:,} customers (seed {args.seed}) in {data_dir}\n")
    generated, reused = prepare_data(data_dir, args.customers, args.seed)
    log.write("   reused generated data\n" if reused else f"   generated in {generated['seconds']:.1f}s\n")
    with LatencySandbox(data_dir, data_dir / "bench-reconcile-sandbox.log", args.latency_ms) as sandbox:
        log.write(f"   simulators answering after {sandbox.start_seconds:.1f}s, {args.latency_ms:g} ms latency each\n")
        env = sandbox_env(data_dir, sandbox.ports)
        match_seconds = run_match(env, data_dir, log)
        figures = reconcile_figures(env, data_dir, log)
    return {**figures, "match_seconds": match_seconds}


def figures_table(figures: Mapping[str, Any]) -> Table:
    table = Table(title="Reconcile (second run)", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in ("reconcile_customers", "reconcile_records", "reconcile_seconds", "reconcile_first_seconds",
                "reconcile_wall_seconds", "reconcile_records_per_second", "reconcile_peak_rss_mb",
                "reconcile_overall_score", "reconcile_planned_writes", "match_seconds"):
        value = figures.get(key)
        table.add_row(key.removeprefix("reconcile_").replace("_", " "), f"{value:,}" if isinstance(value, int) else str(value))
    for name, score in figures.get("reconcile_checks", {}).items():
        table.add_row(f"score: {name}", f"{score:.1%}")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile", description=(__doc__ or "").splitlines()[0])
    add_data_arguments(parser, latency_ms=LATENCY_MS)
    parser.set_defaults(customers=10_000)
    add_keep_argument(parser)
    args = parser.parse_args(argv)

    out = sys.stdout
    console = report_console(out)
    with ExitStack() as stack:
        data_dir = bench_data_dir(args, stack, "reconcile")
        figures = measure(args, data_dir, sys.stderr)

    console.print(figures_table(figures))
    result: dict[str, Any] = {
        **figures,
        "customers": args.customers,
        "seed": args.seed,
        "latency_ms": args.latency_ms,
    }
    if args.customers == 10_000:
        result["reconcile_10k_seconds"] = figures["reconcile_seconds"]
    write_result_line(out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
