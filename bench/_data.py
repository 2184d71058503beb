"""Generated sandbox data for a bench, made in a child process so its memory is not the bench's."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from bench.generate import ProgressLine
from sandbox.generate import generate
from sandbox.runtime import credentials_for, has_data, sandbox_dir

#: Written after a complete generation; `--keep` reuses a data dir only when it matches.
MARKER = "bench-generated.json"


def ground_truth_path(data_dir: Path) -> Path:
    return sandbox_dir(data_dir) / "ground_truth.csv"


def _generate_here(data_dir: str, customers: int, seed: int) -> dict[str, Any]:
    progress = ProgressLine(sys.stderr)
    summary = generate(
        Path(data_dir), customers=customers, seed=seed, credentials=credentials_for(Path(data_dir)), progress=progress
    )
    progress.done()
    return summary.as_dict()


def _reusable(data_dir: Path, customers: int, seed: int) -> dict[str, Any] | None:
    marker = data_dir / MARKER
    if not (marker.exists() and ground_truth_path(data_dir).exists() and has_data(data_dir)):
        return None
    summary: dict[str, Any] = json.loads(marker.read_text())
    return summary if (summary.get("customers"), summary.get("seed")) == (customers, seed) else None


def prepare_data(data_dir: Path, customers: int, seed: int) -> tuple[dict[str, Any], bool]:
    """The generation summary of `data_dir`, generating first unless it already holds this size and seed.

    Returns (summary, reused).
    """
    reused = _reusable(data_dir, customers, seed)
    if reused is not None:
        return reused, True
    (data_dir / MARKER).unlink(missing_ok=True)
    # spawn, not fork: a forked child would share (and count) the parent's pages.
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        summary = pool.submit(_generate_here, str(data_dir), customers, seed).result()
    (data_dir / MARKER).write_text(json.dumps(summary))
    return summary, False
