"""Benchmark of identity resolution: `python -m bench.match [--customers 10000] [--sizes 10000,30000,100000]`.

Per size: generate seeded data with ground truth (in a child process), serve the three
simulators in another child process, run the bulk match in this process exactly as
`c360 match` does, and score the automatic links pairwise against the ground truth.
Prints a table per size, a growth table when several sizes ran, and as the very last
line one JSON object (figures of the largest size, every size under "sizes", and the
acceptance targets of issue 4 with whether each is met).

peak_rss_mb is this process's high-water mark, so it covers the match (the generator and
the simulators run elsewhere; the simulators' RSS is `sandbox_rss_mb`). The mark never
goes down, so sizes run in ascending order and each size's figure is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table

from bench._args import write_result_line
from bench._data import ground_truth_path, prepare_data
from bench._sandbox import SandboxProcess
from connectors import SystemName
from gateway.config import SandboxSettings, Settings
from gateway.sources import close_connectors, effective_sources, open_connectors
from xref import Evaluation, MatchSummary, XrefService, create_engine, create_sessions, evaluate_service, run_bulk_match
from xref import upgrade as upgrade_xref

#: Issue 4, Acceptance 1 and 2: (figure, customers it is judged at, comparison, target).
TARGETS: tuple[tuple[str, int, str, float], ...] = (
    ("precision", 10_000, ">=", 0.99),
    ("recall", 10_000, ">=", 0.97),
    ("review_fraction", 10_000, "<=", 0.03),
    ("seconds", 100_000, "<", 180.0),
    ("peak_rss_mb", 100_000, "<", 3072.0),
)


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS, where this bench is not run).
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class ReadProgress:
    """Records read per system on one line: overwritten on a terminal, every few seconds when piped."""

    def __init__(self, out: TextIO, expected: Mapping[str, int]) -> None:
        self._out = out
        self._tty = out.isatty()
        self._every = 0.2 if self._tty else 5.0
        self._counts = {system: 0 for system in expected}
        self._expected = dict(expected)
        self._started = time.perf_counter()
        self._last = 0.0
        self._written: dict[str, int] = {}

    def __call__(self, system: SystemName, count: int) -> None:
        self._counts[str(system.value)] = count
        complete = all(self._counts[s] >= n for s, n in self._expected.items())
        if complete or time.perf_counter() - self._last >= self._every:
            self._write()

    def _write(self) -> None:
        self._last = now = time.perf_counter()
        self._written = dict(self._counts)
        parts = "  ".join(f"{s} {n:>7,}/{self._expected.get(s, 0):<7,}" for s, n in self._counts.items())
        line = f"     read  {parts}  {now - self._started:6.1f}s"
        self._out.write(f"\r{line}" if self._tty else f"{line}\n")
        self._out.flush()

    def done(self) -> None:
        if self._written != self._counts:  # a system yielded fewer records than generated
            self._write()
        if self._tty:
            self._out.write("\n")
        self._out.flush()


def _count(value: object) -> int:
    """A summary count that may be a number or a breakdown (per system pair) of numbers."""
    if isinstance(value, Mapping):
        return sum(int(v) for v in value.values())
    return int(value) if isinstance(value, (int, float)) else 0


async def run_match(
    data_dir: Path, ports: Mapping[str, int], progress: ReadProgress
) -> tuple[MatchSummary, Evaluation, float, float]:
    """Match and evaluate as `c360 match --evaluate` does; returns (summary, evaluation, match s, evaluate s)."""
    xref_db = data_dir / "bench-xref.sqlite3"
    xref_db.unlink(missing_ok=True)
    (data_dir / "quickbooks-token.json").unlink(missing_ok=True)  # issued by an earlier simulator process
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{xref_db.resolve()}",
        use_sandbox=True,
        sandbox=SandboxSettings(
            host="127.0.0.1",
            sharepoint_port=ports["sharepoint"],
            teamwork_port=ports["teamwork"],
            quickbooks_port=ports["quickbooks"],
        ),
    )
    engine = create_engine(settings.resolved_database_url)
    await upgrade_xref(engine)
    connectors = open_connectors(effective_sources(settings))
    try:
        service = XrefService(create_sessions(engine))
        started = time.perf_counter()
        summary = await run_bulk_match(connectors, service, progress=progress)
        match_seconds = time.perf_counter() - started
        progress.done()
        started = time.perf_counter()
        evaluation = await evaluate_service(service, ground_truth_path(data_dir))
        evaluate_seconds = time.perf_counter() - started
    finally:
        await close_connectors(connectors)
        await engine.dispose()
    return summary, evaluation, match_seconds, evaluate_seconds


def measure(customers: int, seed: int, data_dir: Path, log: TextIO) -> dict[str, Any]:
    """Generate (or reuse), serve, match and evaluate one size; its figures."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log.write(f"== {customers:,} customers (seed {seed}) in {data_dir}\n")
    generated, reused = prepare_data(data_dir, customers, seed)
    log.write(
        "   reused generated data\n" if reused else f"   generated in {generated['seconds']:.1f}s\n"
    )
    with SandboxProcess(data_dir, data_dir / "bench-sandbox.log") as sandbox:
        log.write(f"   simulators answering after {sandbox.start_seconds:.1f}s (pid {sandbox.pid})\n")
        progress = ReadProgress(log, generated["records"])
        summary, evaluation, seconds, evaluate_seconds = asyncio.run(run_match(data_dir, sandbox.ports, progress))
        sandbox_rss = sandbox.rss_mb()
    records_by_system = {str(system.value): n for system, n in summary.records.items()}
    records = sum(records_by_system.values())
    # Read defensively: today's MatchSummary has no review queue; the upgraded matcher adds the field.
    review_items = _count(getattr(summary, "review_items", 0))
    pairs_compared = getattr(summary, "pairs_compared", None)
    return {
        "customers": customers,
        "seed": seed,
        "records": records,
        "records_by_system": records_by_system,
        "precision": round(evaluation.precision, 5),
        "recall": round(evaluation.recall, 5),
        "f1": round(evaluation.f1, 5),
        "true_pairs": evaluation.true_pairs,
        "predicted_pairs": evaluation.predicted_pairs,
        "correct_pairs": evaluation.correct_pairs,
        "unlinked": evaluation.unlinked,
        "review_items": review_items,
        "review_fraction": round(review_items / records, 5) if records else 0.0,
        "review_items_reported": hasattr(summary, "review_items"),
        "golden_customers": summary.customers,
        "within_system_duplicates": summary.within_system_duplicates,
        "pairs_compared": _count(pairs_compared) if pairs_compared is not None else None,
        "seconds": round(seconds, 2),
        "records_per_s": round(records / seconds) if seconds else None,
        "peak_rss_mb": peak_rss_mb(),
        "sandbox_rss_mb": sandbox_rss["rss_mb"],
        "sandbox_peak_rss_mb": sandbox_rss["peak_rss_mb"],
        "evaluate_seconds": round(evaluate_seconds, 2),
        "generate_seconds": None if reused else generated["seconds"],
        "sandbox_start_seconds": sandbox.start_seconds,
    }


def acceptance(sizes: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each target with the figure at its size; `met` is None when that size did not run."""
    by_customers = {size["customers"]: size for size in sizes}
    checks: dict[str, dict[str, Any]] = {}
    for figure, customers, op, target in TARGETS:
        size = by_customers.get(customers)
        value = size[figure] if size is not None else None
        met: bool | None = None
        if value is not None:
            met = value >= target if op == ">=" else value <= target if op == "<=" else value < target
        checks[f"{figure}_at_{customers // 1000}k"] = {
            "customers": customers, "op": op, "target": target, "value": value, "met": met,
        }
    return checks


def size_table(size: Mapping[str, Any]) -> Table:
    table = Table(title=f"Match at {size['customers']:,} customers", title_justify="left", show_header=False,
                  box=box.SIMPLE)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows: list[tuple[str, object]] = [
        ("records sp/tw/qb", " / ".join(f"{n:,}" for n in size["records_by_system"].values())),
        ("records", f"{size['records']:,}"),
        ("precision", f"{size['precision']:.5f}"),
        ("recall", f"{size['recall']:.5f}"),
        ("F1", f"{size['f1']:.5f}"),
        ("pairs true/predicted/correct",
         f"{size['true_pairs']:,} / {size['predicted_pairs']:,} / {size['correct_pairs']:,}"),
        ("review queue", f"{size['review_items']:,} ({100 * size['review_fraction']:.2f}% of records)"
         if size["review_items_reported"] else "0 (the matcher reports no review_items)"),
        ("golden customers", f"{size['golden_customers']:,}"),
        ("within-system duplicates", f"{size['within_system_duplicates']:,}"),
        ("match seconds", f"{size['seconds']:.1f}"),
        ("records/s", f"{size['records_per_s']:,}"),
        ("peak RSS, bench (MB)", f"{size['peak_rss_mb']:,.0f}"),
        ("RSS, simulators (MB)", f"{size['sandbox_rss_mb'] or 0:,.0f}"),
    ]
    if size["pairs_compared"] is not None:
        rows.insert(8, ("pairs compared", f"{size['pairs_compared']:,}"))
    for label, value in rows:
        table.add_row(label, str(value))
    return table


def growth_table(sizes: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="Growth", title_justify="left", box=box.SIMPLE)
    for column in ("customers", "records", "match s", "rec/s", "x records", "x time", "RSS MB", "F1"):
        table.add_column(column, justify="right")
    first = sizes[0]
    for size in sizes:
        table.add_row(
            f"{size['customers']:,}",
            f"{size['records']:,}",
            f"{size['seconds']:.1f}",
            f"{size['records_per_s']:,}",
            f"{size['records'] / first['records']:.1f}",
            f"{size['seconds'] / first['seconds']:.1f}" if first["seconds"] else "-",
            f"{size['peak_rss_mb']:,.0f}",
            f"{size['f1']:.5f}",
        )
    return table


def acceptance_table(checks: Mapping[str, Mapping[str, Any]]) -> Table:
    table = Table(title="Acceptance (issue 4)", title_justify="left", box=box.SIMPLE)
    for column in ("target", "value", "met"):
        table.add_column(column, justify="right")
    for name, check in checks.items():
        met = {True: "yes", False: "NO", None: "not run"}[check["met"]]
        value = "-" if check["value"] is None else str(check["value"])
        table.add_row(f"{name} {check['op']} {check['target']}", value, met)
    return table


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}") from None
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.match", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000, help="real-world customers (one size)")
    parser.add_argument("--sizes", type=_sizes, default=None,
                        help="comma-separated sizes, run smallest first, e.g. 10000,30000,100000 (overrides --customers)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep data, xref and simulator log in DIR/customers-N-seed-S (and reuse the data next time)")
    args = parser.parse_args(argv)
    sizes: list[int] = args.sizes or [args.customers]

    out = sys.stdout
    # Piped output would otherwise wrap at 80 columns and cut the growth table's cells.
    console = Console(file=out, highlight=False, width=None if out.isatty() else 100)
    results: list[dict[str, Any]] = []
    with ExitStack() as stack:
        root = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="c360-bench-match-")))
        for customers in sizes:
            size = measure(customers, args.seed, root / f"customers-{customers}-seed-{args.seed}", sys.stderr)
            results.append(size)
            console.print(size_table(size))
    if len(results) > 1:
        console.print(growth_table(results))
    checks = acceptance(results)
    console.print(acceptance_table(checks))
    verdicts = [c["met"] for c in checks.values() if c["met"] is not None]
    largest = results[-1]
    result = {
        **{key: largest[key] for key in (
            "customers", "records", "precision", "recall", "f1", "review_items", "review_fraction",
            "seconds", "records_per_s", "peak_rss_mb", "sandbox_rss_mb",
        )},
        "seed": args.seed,
        "sizes": results,
        "acceptance": checks,
        "acceptance_met": all(verdicts) if verdicts else None,
    }
    write_result_line(out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
