"""The CLI's console: settings errors, progress bars and tables for long work (people look, they do not read logs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import TaskID, BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from gateway.config import Settings

console = Console()


def load_settings() -> Settings:
    """Settings from C360_* and .env; a bad value is one red line and exit code 2, not a traceback."""
    try:
        return Settings()
    except Exception as exc:  # pydantic's ValidationError: say what is wrong, no traceback
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


@contextmanager
def staged_progress() -> Iterator[Callable[[str, int, int], None]]:
    """A callback `(stage, done, total)` that draws one bar per stage."""
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total or None)
        progress.update(tasks[stage], completed=done, total=total or None)

    with progress:
        yield update


@contextmanager
def counting_progress(labels: list[str]) -> Iterator[Callable[[str, int], None]]:
    """A callback `(label, count)` for streams of unknown length (records read per system)."""
    progress = Progress(SpinnerColumn(), TextColumn("{task.description:<28}"), TextColumn("{task.completed:>9,} records"),
                        TimeElapsedColumn(), console=console)
    tasks = {label: progress.add_task(f"reading {label}", total=None) for label in labels}

    def update(label: str, count: int) -> None:
        progress.update(tasks[label], completed=count)

    with progress:
        yield update


def figures_table(title: str, rows: Mapping[str, object]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for key, value in rows.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    return table
