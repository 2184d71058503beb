"""Command-line options every scenario benchmark shares (data set, latency, where to keep files)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

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
