"""The acceptance table every benchmark ends with: each target, the figure measured, met or not."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.table import Table


def acceptance_table(checks: Mapping[str, Mapping[str, Any]], issue: int) -> Table:
    table = Table(title=f"Acceptance (issue {issue})", title_justify="left", box=box.SIMPLE)
    for column in ("target", "value", "met"):
        table.add_column(column, justify="right")
    for name, check in checks.items():
        met = {True: "yes", False: "NO", None: "not run"}[check["met"]]
        target = check["target"]
        shown = f"{target:g}" if isinstance(target, int | float) and not isinstance(target, bool) else str(target)
        table.add_row(f"{name} {check['op']} {shown}", str(check["value"]), met)
    return table
