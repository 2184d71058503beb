"""Benchmark of the sandbox generator: `python -m bench.generate --customers 100000`.

Prints a progress line, a table of figures, and as the very last line one JSON
object (customers, seconds, peak_rss_mb, per-system counts) for scripts to parse.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from sandbox._credentials import SandboxCredentials
from sandbox.generate import GenerationSummary, generate


class ProgressLine:
    """One self-overwriting status line on a terminal (plain lines when piped, and fewer of them)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tty = out.isatty()
        self._started = time.perf_counter()
        self._last_pct = -1

    def __call__(self, stage: str, done: int, total: int) -> None:
        pct = 100 * done // total if total else 100
        if not self._tty and pct // 10 == self._last_pct // 10 and done != total:
            return
        self._last_pct = pct
        line = f"{stage:>10} {done:>8}/{total:<8} {pct:3d}%  {time.perf_counter() - self._started:6.1f}s"
        self._out.write(f"\r{line}" if self._tty else f"{line}\n")
        self._out.flush()

    def done(self) -> None:
        if self._tty:
            self._out.write("\n")


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS, where this bench is not run).
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def figures(summary: GenerationSummary, data_dir: Path, rss_mb: float) -> dict[str, Any]:
    files = {
        name: round((data_dir / "sandbox" / f"{name}.sqlite3").stat().st_size / 2**20, 1)
        for name in summary.records
    }
    return {
        "customers": summary.customers,
        "seed": summary.seed,
        "seconds": summary.seconds,
        "peak_rss_mb": rss_mb,
        "records_per_second": round(summary.total_records / summary.seconds) if summary.seconds else None,
        "total_records": summary.total_records,
        "records": summary.records,
        "duplicates": summary.duplicates,
        "documents": summary.documents,
        "projects": summary.projects,
        "invoices": summary.invoices,
        "leads": summary.leads,
        "quickbooks_only": summary.quickbooks_only,
        "inactive": summary.inactive,
        "file_mb": files,
    }


def print_table(result: dict[str, Any], out: TextIO) -> None:
    rows = [
        ("sharepoint customers", result["records"]["sharepoint"]),
        ("sharepoint documents", result["documents"]),
        ("teamwork companies", result["records"]["teamwork"]),
        ("teamwork projects", result["projects"]),
        ("quickbooks customers", result["records"]["quickbooks"]),
        ("quickbooks invoices", result["invoices"]),
        ("duplicates sp/tw/qb", "/".join(str(result["duplicates"][s]) for s in ("sharepoint", "teamwork", "quickbooks"))),
        ("leads / qb-only / inactive", f"{result['leads']} / {result['quickbooks_only']} / {result['inactive']}"),
        ("total records", result["total_records"]),
        ("seconds", result["seconds"]),
        ("records/s", result["records_per_second"]),
        ("peak RSS (MB)", result["peak_rss_mb"]),
        ("files sp/tw/qb (MB)", "/".join(str(v) for v in result["file_mb"].values())),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        out.write(f"{label:<{width}}  {value:>16}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000, help="real-world customers to generate")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the output here (default: a temp dir, removed)")
    args = parser.parse_args(argv)

    progress = ProgressLine(sys.stderr)
    with tempfile.TemporaryDirectory(prefix="c360-bench-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        summary = generate(
            data_dir,
            customers=args.customers,
            seed=args.seed,
            credentials=SandboxCredentials.generate(),
            progress=progress,
        )
        progress.done()
        result = figures(summary, data_dir, peak_rss_mb())
    print_table(result, sys.stdout)
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
