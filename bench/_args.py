"""Command-line options every scenario benchmark shares (data set, latency, where to keep files)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console


def add_data_arguments(parser: argparse.ArgumentParser, *, latency_ms: float) -> None:
    parser.add_argument("--customers", type=int, default=300, help="real-world customers to generate")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--latency-ms", type=float, default=latency_ms, help="added to every simulated API call")


def add_keep_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep data, xref and logs in DIR/customers-N-seed-S (and reuse the data next time)")


def report_console(out: TextIO = sys.stdout) -> Console:
    """Tables for people: full width on a terminal, 110 columns in a log."""
    return Console(file=out, highlight=False, width=None if out.isatty() else 110)


def data_dir(args: argparse.Namespace, stack: ExitStack, bench: str) -> Path:
    """`DIR/customers-N-seed-S` under `--keep DIR` (data reused next time), else under a temp dir
    that `stack` removes."""
    root = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"c360-bench-{bench}-")))
    return Path(root) / f"customers-{args.customers}-seed-{args.seed}"


def write_result_line(out: TextIO, result: Mapping[str, Any]) -> None:
    """The bench's figures as one JSON object on the very last line (what scripts read)."""
    out.flush()
    out.write(json.dumps(result, separators=(",", ":"), default=str) + "\n")
    out.flush()
