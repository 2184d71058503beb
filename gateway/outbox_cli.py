"""`c360 outbox`: the writes still owed to a source system; list them, retry the dead ones, drop the unwanted.

Works on the xref database of the settings (C360_DATABASE_URL or the SQLite file in
C360_DATA_DIR), the one every gateway process shares, so a running gateway's worker
picks up a retried entry on its next pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn, Optional, TypeVar

import typer
from rich import box
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from gateway._console import console, figures_table, load_settings
from gateway.config import Settings
from xref import (
    OUTBOX_STATUSES,
    Outbox,
    OutboxEntry,
    OutboxError,
    OutboxStatus,
    UnknownOutboxEntry,
    create_engine,
    create_sessions,
    upgrade,
)
from xref.outbox import MAX_BATCH

__all__ = ["outbox_app"]

outbox_app = typer.Typer(help="Writes waiting for a source system (the durable outbox).", no_args_is_help=True)

T = TypeVar("T")
#: Characters of an entry's last error the table shows (`--json` has all of it).
ERROR_WIDTH = 48


def _fail(message: str, code: int = 1) -> NoReturn:
    console.print(Text(message, style="red"))
    raise typer.Exit(code)


@contextlib.asynccontextmanager
async def _opened(settings: Settings) -> AsyncIterator[Outbox]:
    """The outbox on the settings' database, migrated to the current schema first (as `c360 match` does)."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
        yield Outbox(create_sessions(engine))
    finally:
        await engine.dispose()


def _run(work: Callable[[Outbox], Awaitable[T]]) -> T:
    settings = load_settings()

    async def main() -> T:
        async with _opened(settings) as outbox:
            return await work(outbox)

    try:
        return asyncio.run(main())
    except (SQLAlchemyError, OSError) as exc:
        where = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
        reason = getattr(exc, "orig", None) or exc
        _fail(f"xref database {where}: {type(reason).__name__}: {reason}")


def _status(value: str | None) -> OutboxStatus | None:
    if value is None:
        return None
    for status in OUTBOX_STATUSES:
        if value.strip().lower() == status:
            return status
    _fail(f"--status must be one of {', '.join(OUTBOX_STATUSES)}, got {value!r}", code=2)


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _short(text: str | None, width: int = ERROR_WIDTH) -> str:
    """The first line of an error, at most `width` characters; "…" says there is more."""
    lines = (text or "").strip().splitlines()
    if not lines:
        return "-"
    if len(lines) == 1 and len(lines[0]) <= width:
        return lines[0]
    return lines[0][: width - 1].rstrip() + "…"


def _attributes(entry: OutboxEntry) -> list[str]:
    changes = entry.payload.get("changes")
    return list(changes) if isinstance(changes, dict) else []


def _as_json(entry: OutboxEntry) -> dict[str, Any]:
    """An entry for scripts: every field but the payload's values (attribute names only)."""
    return {
        "id": entry.id, "mutation_id": entry.mutation_id, "customer_id": entry.customer_id, "system": entry.system,
        "record_id": entry.record_id, "action": entry.action, "attributes": _attributes(entry),
        "status": entry.status, "attempts": entry.attempts, "next_attempt_at": entry.next_attempt_at.isoformat(),
        "claimed_until": entry.claimed_until.isoformat() if entry.claimed_until else None,
        "last_error": entry.last_error, "created_at": entry.created_at.isoformat(),
        "updated_at": entry.updated_at.isoformat(),
    }


def _due(entry: OutboxEntry, now: datetime) -> str:
    """When a pending entry is tried next, relative to now ("due", "in 4m 10s"); "-" for finished ones."""
    if entry.status != "pending":
        return "-"
    seconds = int((entry.next_attempt_at - now).total_seconds())
    if seconds <= 0:
        return "due"
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours}h"] * bool(hours) + [f"{minutes}m"] * bool(minutes) + [f"{seconds}s"] * bool(seconds)
    return "in " + " ".join(parts[:2])


def _table(entries: list[OutboxEntry], title: str, now: datetime) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    # An id stays whole on one line, to be copied into `retry` or `drop`; on a narrow terminal the
    # short columns keep their width and the long ones (error, customer, time) fold.
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("system", min_width=10)
    table.add_column("record", overflow="fold")
    table.add_column("action", min_width=6)
    table.add_column("status", min_width=7)
    table.add_column("attempts", justify="right")
    for column in ("next attempt", "last error", "customer", "created"):
        table.add_column(column, overflow="fold")
    for e in entries:
        cells = (e.id, e.system, e.record_id or "-", e.action, e.status, str(e.attempts), _due(e, now),
                 _short(e.last_error), e.customer_id or "-", _time(e.created_at))
        table.add_row(*(Text(cell) for cell in cells))  # Text: an error's "[...]" is not markup
    return table


@outbox_app.command("list")
def list_entries(
    status: Annotated[Optional[str], typer.Option(help="pending, applied or dead (default: all).")] = None,
    customer: Annotated[Optional[str], typer.Option(help="Only this customer's entries (golden id).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_BATCH, help="Most entries shown, oldest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (every field, full errors) instead of a table.")] = False,
) -> None:
    """Outbox entries, oldest first: what each write is, where it stands, and why it last failed."""
    wanted = _status(status)
    entries = _run(lambda outbox: outbox.entries(wanted, customer, limit=limit))
    if as_json:
        typer.echo(json.dumps([_as_json(e) for e in entries], indent=2, ensure_ascii=False))
        return
    if not entries:
        console.print("No outbox entries" + (f" with status {status}" if status else "") + ".")
        return
    console.print(_table(entries, f"Outbox entries ({len(entries):,}), times in UTC", datetime.now(UTC)))
    if len(entries) == limit:
        console.print(f"showing the first {limit:,}; there may be more (--limit, --status, --customer)")


async def _retry_all_dead(outbox: Outbox) -> int:
    """Every dead entry, batch by batch; one dead-lettered again meanwhile (by a running worker) is not retried twice."""
    seen: set[str] = set()
    retried = 0
    while batch := [e for e in await outbox.entries("dead", limit=MAX_BATCH) if e.id not in seen]:
        for entry in batch:
            seen.add(entry.id)
            with contextlib.suppress(OutboxError):  # applied or dropped since it was listed
                await outbox.retry(entry.id)
                retried += 1
    return retried


@outbox_app.command("retry")
def retry(
    entry_id: Annotated[Optional[str], typer.Argument(metavar="ID", help="The entry (see `c360 outbox list`).")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Every dead entry instead of one.")] = False,
) -> None:
    """Make a dead or pending entry due now, with its attempt count reset; the worker tries it on its next pass."""
    if (entry_id is None) == (not all_dead):
        _fail("give an entry ID or --all-dead (not both)", code=2)
    if entry_id is None:
        count = _run(_retry_all_dead)
        console.print(f"{count:,} dead entr{'y is' if count == 1 else 'ies are'} pending again, due now.")
        return
    result = _run(lambda outbox: _retry_one(outbox, entry_id))
    if isinstance(result, str):
        _fail(result)
    console.print(Text(f"{result.id} ({result.system} {result.record_id or '-'}) is pending again, due now."))


async def _retry_one(outbox: Outbox, entry_id: str) -> OutboxEntry | str:
    """The retried entry, or why it cannot be retried."""
    try:
        return await outbox.retry(entry_id)
    except UnknownOutboxEntry:
        return f"no outbox entry has id {entry_id!r} (see `c360 outbox list`)"
    except OutboxError as exc:
        return f"{exc}; retrying it would write the change twice"


@outbox_app.command("drop")
def drop(
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="The entry (see `c360 outbox list`).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an entry: its change is then never written to that system."""
    entry = _run(lambda outbox: outbox.get(entry_id))
    if entry is None:
        _fail(f"no outbox entry has id {entry_id!r} (see `c360 outbox list`)")
    what = ", ".join(_attributes(entry)) or "no attributes"
    if not yes:
        typer.confirm(
            f"Drop the {entry.status} {entry.action} of {entry.system} record {entry.record_id or '-'} ({what})? "
            "The change will never be written there.",
            abort=True,
        )
    if not _run(lambda outbox: outbox.drop(entry_id)):
        _fail(f"outbox entry {entry_id!r} was already gone")
    console.print(Text(f"dropped {entry_id}"))


@outbox_app.command("stats")
def stats(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """How many entries are pending, applied and dead."""
    counts = _run(lambda outbox: outbox.counts())
    if as_json:
        typer.echo(json.dumps(counts))
        return
    console.print(figures_table("Outbox entries", {status: n for status, n in counts.items()}))
