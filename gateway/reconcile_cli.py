"""`c360 reconcile`: the data-quality scorecard (seed 002), drift over time, and repairs.

Reads every system through the connectors and the index of the settings (as `c360 match`
does), prints the scorecard, stores the run's counts in the xref database (counts only),
and on request writes them as JSON or CSV and draws drift over time from the stored runs.
`--fix` shows the writes that would put the survivorship value in every drifted system,
the links it would remove (records gone from their system) and the systems it would set
active customers up in, and what is a steward's work (duplicates, the review backlog);
`--fix --apply` makes them (the write path: ownership, version tokens, outbox; links in
the index; each repair audited as the configured subject), then reads again and shows
the scores after.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from connectors import Address, ConnectorError
from gateway._console import console, load_settings
from gateway._reconcile_chart import render_chart
from gateway.config import Settings
from gateway.logging_setup import configure_logging
from gateway.matching import engine_settings
from resolvers.reconcile import CHECKS, RunSummary, reconcile
from resolvers.write_through import WriteThrough
from xref import AuditLog, Outbox, ReconcileRunInfo, ReconcileRuns, XrefService, create_engine, create_sessions, upgrade

__all__ = ["reconcile_command"]

#: Checks whose failures are counted per system in the table.
_PER_SYSTEM = ("duplicates", "missing", "dangling_links")
#: Planned writes the dry run lists (all of them are counted).
_SHOWN_REPAIRS = 40
_stderr = Console(stderr=True)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int | None], None]]:
    """One line per stage: records read per system (no total known), then repairs done of all."""
    if not enabled:
        yield lambda label, done, total: None
        return
    progress = Progress(SpinnerColumn(), TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=False)
    tasks: dict[str, TaskID] = {}

    def update(label: str, done: int, total: int | None) -> None:
        if label not in tasks:
            tasks[label] = progress.add_task(label, total=total)
        progress.update(tasks[label], completed=done, total=total)

    with progress:
        yield update


def _percent(score: float) -> str:
    return f"{score:.1%}"


def scorecard(counts: Mapping[str, Any], title: str) -> Table:
    """The run's checks: failing customers of all checked, score, and where (per system)."""
    systems = sorted(counts.get("records", {}))
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("check", no_wrap=True)
    for column in ("failing", "checked", "score"):
        table.add_column(column, justify="right", no_wrap=True)
    for system in systems:
        table.add_column(system, justify="right", no_wrap=True)
    for check in CHECKS:
        score = counts["checks"].get(check)
        if score is None:
            continue
        if check in counts.get("attributes", {}):
            where = counts["attributes"][check]["systems"]
        elif check == "duplicates":
            where = counts["duplicates"]["systems"]
        elif check in _PER_SYSTEM:
            where = counts.get(check, {})
        else:
            where = {}
        cells = [f"{where[s]:,}" if s in where else "" for s in systems]
        style = "green" if score["score"] >= 1.0 else ("yellow" if score["score"] >= 0.9 else "red")
        table.add_row(check, f"{score['failing']:,}", f"{score['checked']:,}",
                      Text(_percent(score["score"]), style=style), *cells)
    overall = counts["overall"]
    table.add_row(Text("overall", style="bold"), f"{overall['failing']:,}", f"{overall['checked']:,}",
                  Text(_percent(overall["score"]), style="bold"), *([""] * len(systems)))
    return table


def _footnote(counts: Mapping[str, Any]) -> str:
    records = ", ".join(f"{s} {n:,}" for s, n in counts.get("records", {}).items())
    unlinked = sum(counts.get("unlinked_records", {}).values())
    review = counts.get("review", {})
    return (f"{counts['customers']:,} customers ({counts.get('active_customers', 0):,} active); records read: {records}; "
            f"unlinked records: {unlinked:,}; open review items: {review.get('open_items', 0):,}. "
            "Per system: customers whose record there differs from the survivorship value (attributes), "
            "has duplicates, is missing, or is a dangling link.")


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, Address):
        parts = [value.line1, value.line2, value.city, value.state, value.postal_code]
        return ", ".join(p for p in parts if p)
    return str(getattr(value, "value", value))


def repairs_table(summary: RunSummary, shown: int = _SHOWN_REPAIRS) -> Table:
    """The planned writes (the first `shown`): customer, attribute, record, its value now, the value it gets."""
    total = sum(len(r.deviations) for r in summary.repairs)
    table = Table(title=f"Writes the repair makes ({len(summary.repairs):,} writes to {total:,} records; "
                        f"first {min(shown, total):,})", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("customer", no_wrap=True)
    for column in ("attribute", "system", "record", "now", "becomes"):
        table.add_column(column, overflow="fold")
    rows = 0
    for repair in summary.repairs:
        for deviation in repair.deviations:
            if rows >= shown:
                return table
            table.add_row(Text(repair.customer_id), repair.attribute, deviation.system.value, Text(deviation.record_id),
                          Text(_text(deviation.value)), Text(_text(repair.value)))
            rows += 1
    return table


def unfixable_table(summary: RunSummary, shown: int = _SHOWN_REPAIRS) -> Table:
    table = Table(title=f"Drift no write can remove ({len(summary.unfixable):,}; first "
                        f"{min(shown, len(summary.unfixable)):,})", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("customer", no_wrap=True)
    for column in ("attribute", "system", "record", "why"):
        table.add_column(column, overflow="fold")
    for item in summary.unfixable[:shown]:
        d = item.deviation
        table.add_row(Text(d.customer_id), d.attribute, d.system.value, Text(d.record_id), Text(item.message))
    return table


def link_repairs_table(summary: RunSummary, shown: int = _SHOWN_REPAIRS) -> Table:
    """The planned link repairs (the first `shown`): links to remove, systems to set the customer up in."""
    rows = [(fix.customer_id, "unlink", link.system.value, link.record_id, f"gone from {link.system.value}")
            for fix in summary.link_repairs for link in fix.unlink]
    rows += [(fix.customer_id, "provision", system.value, "",
              "active, but its record there is gone" if any(link.system is system for link in fix.unlink)
              else "active, but missing there")
             for fix in summary.link_repairs for system in fix.provision]
    table = Table(title=f"Link repairs ({len(rows):,} for {len(summary.link_repairs):,} customers; first "
                        f"{min(shown, len(rows)):,}): unlink = remove the link from the index; provision = search, "
                        "link or create, as convertLead", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("customer", no_wrap=True)
    for column in ("repair", "system", "record", "why"):
        table.add_column(column, overflow="fold")
    for customer, action, system, record, why in rows[:shown]:
        table.add_row(Text(customer), action, system, Text(record), why)
    return table


def _status_table(title: str, first: str, counts: Mapping[str, Mapping[str, Mapping[str, int]]]) -> Table:
    """Records per status, one row per (`first`, system): the shape of both repair tables."""
    statuses = sorted({status for systems in counts.values() for cell in systems.values() for status in cell})
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column(first)
    table.add_column("system")
    for status in statuses:
        table.add_column(status, justify="right")
    for key, systems in counts.items():
        for system, cell in sorted(systems.items()):
            table.add_row(key, system, *(f"{cell.get(s, 0):,}" for s in statuses))
    return table


def link_outcome_table(summary: RunSummary) -> Table:
    counts = summary.outcome.link_counts() if summary.outcome is not None else {}
    return _status_table("Link repairs made (records per status)", "repair",
                         dict(sorted(counts.items(), reverse=True)))


def steward_lines(summary: RunSummary) -> list[str]:
    """What `--fix` leaves to a person, one line per check, with where to do it."""
    lines = []
    duplicates = [w for w in summary.steward if w.check == "duplicates"]
    if duplicates:
        customers = len({w.customer_id for w in duplicates})
        lines.append(f"duplicates: {customers:,} customers with 2+ records in one system → merge the records in "
                     "that system (a record deleted there then shows as a dangling link, which `--fix` removes), "
                     "or `unlinkRecord` the one that is another customer's (then `linkRecords` / `mergeCustomers`)")
    if summary.review_open:
        lines.append(f"review backlog: {summary.review_open:,} open items ({len(summary.review_customers):,} "
                     "customers) → GraphQL `reviewQueue`, then `resolveReview`")
    return lines


def outcome_table(summary: RunSummary) -> Table:
    counts = summary.outcome.counts() if summary.outcome is not None else {}
    return _status_table("Repairs written (records per status)", "attribute", counts)


def run_json(summary: RunSummary, counts: Mapping[str, Any], stored: ReconcileRunInfo | None,
             fix: bool) -> dict[str, Any]:
    """The run for scripts: its counts, and (not stored anywhere) the failing customers' ids per check."""
    data: dict[str, Any] = {
        "run_id": stored.id if stored is not None else None,
        "started_at": summary.started_at.isoformat(),
        "finished_at": summary.finished_at.isoformat(),
        "seconds": summary.seconds,
        **counts,
        "failing_customers": {check: summary.failing(check) for check in CHECKS},
        "attribute_systems": {
            attribute: {s.value: sorted(ids) for s, ids in found.by_system.items()}
            for attribute, found in summary.attributes.items()
        },
    }
    if fix:
        data["planned_writes"] = [
            {"customer_id": r.customer_id, "attribute": r.attribute,
             "records": [{"system": d.system.value, "record_id": d.record_id} for d in r.deviations]}
            for r in summary.repairs
        ]
        data["planned_link_repairs"] = [
            {"customer_id": fix.customer_id,
             "unlink": [{"system": link.system.value, "record_id": link.record_id} for link in fix.unlink],
             "provision": [system.value for system in fix.provision]}
            for fix in summary.link_repairs
        ]
        data["unfixable"] = [
            {"check": u.deviation.attribute, "customer_id": u.deviation.customer_id,
             "attribute": u.deviation.attribute, "system": u.deviation.system.value,
             "record_id": u.deviation.record_id, "reason": u.reason, "message": u.message}
            for u in summary.unfixable
        ] + [
            {"check": w.check, "customer_id": w.customer_id, "system": w.system.value if w.system else None,
             "record_ids": list(w.record_ids), "reason": w.reason, "message": w.message}
            for w in summary.steward
        ]
        if summary.outcome is not None:
            data["link_repairs"] = [
                {"customer_id": o.repair.customer_id, "audit_ids": list(o.audit_ids), "retired": o.retired,
                 "steps": [{"action": s.action, "system": s.system.value, "record_id": s.record_id,
                            "status": s.status, "message": s.message} for s in o.steps]}
                for o in summary.outcome.links
            ]
    return data


CSV_COLUMNS = ("run_id", "started_at", "check", "system", "failing", "checked", "score")


def csv_rows(run_id: int | None, started_at: str, counts: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """One row per check (system empty) and per check and system; counts only."""
    rows: list[tuple[Any, ...]] = []
    for check in (*CHECKS, "overall"):
        score = counts["overall"] if check == "overall" else counts["checks"].get(check)
        if score is None:
            continue
        rows.append((run_id, started_at, check, "", score["failing"], score["checked"], score["score"]))
        if check in counts.get("attributes", {}):
            where = counts["attributes"][check]["systems"]
        elif check == "duplicates":
            where = counts["duplicates"]["systems"]
        elif check in _PER_SYSTEM:
            where = counts.get(check, {})
        else:
            where = {}
        for system, failing in sorted(where.items()):
            rows.append((run_id, started_at, check, system, failing, score["checked"], ""))
    return rows


def write_csv(path: Path, rows: Sequence[tuple[Any, ...]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)


async def _run(settings: Settings, *, fix: bool, apply: bool, history: bool, show_progress: bool,
               chart_runs: int) -> tuple[RunSummary | None, RunSummary | None, ReconcileRunInfo | None,
                                          list[ReconcileRunInfo]]:
    """(the run, the run after repairs, the stored run, the runs for the chart)."""
    from gateway.sources import close_connectors, effective_sources, open_connectors

    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
        sessions = create_sessions(engine)
        runs = ReconcileRuns(sessions)
        if history:
            latest = await runs.latest()
            return None, None, latest, await runs.last(chart_runs)
        xref = XrefService(sessions)
        connectors = open_connectors(effective_sources(settings))
        try:
            ownership = settings.ownership_policy()
            options: dict[str, Any] = dict(
                policy=settings.survivorship_policy(), ownership=ownership, region=settings.phone_region,
                runs=runs, keep_runs=settings.reconcile.keep_runs, subject=settings.reconcile.subject,
                concurrency=settings.reconcile.fix_concurrency, engine_settings=engine_settings(settings.match),
            )
            writes = WriteThrough(connectors, Outbox(sessions), AuditLog(sessions), ownership=ownership) if apply else None
            with _progress(show_progress) as progress:
                summary, stored = await reconcile(connectors, xref, progress=progress, write_through=writes, **options)
            after = None
            if writes is not None and summary.outcome is not None:
                with _progress(show_progress) as progress:
                    after, stored_after = await reconcile(connectors, xref, progress=progress, **options)
                stored = stored_after or stored
        finally:
            await close_connectors(connectors)
        return summary, after, stored, await runs.last(chart_runs)
    finally:
        await engine.dispose()


def reconcile_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON (counts, and the failing customers' "
                                          "ids per check) instead of tables.")] = False,
    csv_file: Annotated[Optional[Path], typer.Option("--csv", metavar="FILE",
                                                     help="Write the run's counts per check and system as CSV.")] = None,
    chart: Annotated[Optional[Path], typer.Option("--chart", metavar="FILE",
                                                  help="Write an HTML chart (inline SVG) of drift per attribute and "
                                                  "system over the stored runs.")] = None,
    fix: Annotated[bool, typer.Option("--fix", help="Show the writes that would put the survivorship value in every "
                                      "drifted system, the links to records gone from their system that would be "
                                      "removed, the systems active customers would be set up in, and what is a "
                                      "steward's work (a dry run: nothing is written without --apply).")] = False,
    apply: Annotated[bool, typer.Option("--apply", help="With --fix: make those repairs (write path: ownership, "
                                        "outbox, audit; links in the index, audited), then check again.")] = False,
    history: Annotated[bool, typer.Option("--history", help="Read no system: show the latest stored run "
                                          "(and write --csv/--chart from the stored runs).")] = False,
) -> None:
    """Data quality: where linked records disagree, duplicates, missing and dangling links, the review backlog."""
    if apply and not fix:
        console.print("[red]--apply only goes with --fix[/red]")
        raise typer.Exit(2)
    if history and fix:
        console.print("[red]--history reads no system, so it cannot --fix[/red]")
        raise typer.Exit(2)
    settings = load_settings()
    configure_logging(settings.log_level)
    try:
        summary, after, stored, runs = asyncio.run(_run(
            settings, fix=fix, apply=apply, history=history, show_progress=not as_json,
            chart_runs=settings.reconcile.chart_runs,
        ))
    except ConnectorError as exc:
        # A partial read would count the unread records as gone: the run stops and stores nothing.
        _stderr.print(Text(f"cannot read {exc}; nothing was stored", style="red"))
        raise typer.Exit(1) from None
    except (SQLAlchemyError, OSError) as exc:
        where = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
        _stderr.print(Text(f"xref database {where}: {type(exc).__name__}: {exc}", style="red"))
        raise typer.Exit(1) from None
    if summary is None:
        if stored is None:
            console.print("No reconciliation run is stored yet: run `c360 reconcile` first.")
            raise typer.Exit(1)
        counts: Mapping[str, Any] = stored.summary
        started = stored.started_at.isoformat()
        if as_json:
            typer.echo(json.dumps({"run_id": stored.id, "started_at": started, "finished_at":
                                   stored.finished_at.isoformat(), "seconds": stored.seconds, "kind": stored.kind,
                                   **counts}, indent=2))
        else:
            console.print(scorecard(counts, f"Data quality, run {stored.id} of {stored.started_at:%Y-%m-%d %H:%M} UTC "
                                            f"({stored.kind})"))
            console.print(_footnote(counts))
        _files(csv_file, chart, stored.id, started, counts, runs, quiet=as_json)
        return
    counts = summary.counts()
    final = after or summary
    final_counts = final.counts() if after is not None else counts
    if as_json:
        data = run_json(summary, counts, stored if after is None else None, fix)
        if after is not None:
            data["after"] = run_json(after, final_counts, stored, False)
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        title = f"Data quality ({summary.customers:,} customers, {summary.seconds:.1f} s)"
        console.print(scorecard(counts, title + (" before the repairs" if after is not None else "")))
        console.print(_footnote(counts))
        if fix:
            _print_fix(summary, apply)
        if after is not None:
            console.print(scorecard(final_counts, f"Data quality after the repairs ({after.seconds:.1f} s)"))
    _files(csv_file, chart, stored.id if stored else None, final.started_at.isoformat(), final_counts, runs,
           quiet=as_json)


def _print_steward(summary: RunSummary) -> None:
    lines = steward_lines(summary)
    if lines:
        console.print(Text("Not fixable automatically (a steward's work; `--json` lists them as unfixable):",
                           style="bold"))
        for line in lines:
            console.print(Text(f"  {line}"))


def _print_fix(summary: RunSummary, applied: bool) -> None:
    if not summary.repairs and not summary.unfixable and not summary.link_repairs:
        console.print("Nothing to repair." if not summary.steward else "Nothing --fix can repair.")
        _print_steward(summary)
        return
    if not applied:
        if summary.repairs:
            console.print(repairs_table(summary))
        if summary.link_repairs:
            console.print(link_repairs_table(summary))
        if summary.unfixable:
            console.print(unfixable_table(summary))
        _print_steward(summary)
        console.print(f"Dry run: nothing was written. {len(summary.repairs):,} writes would go through the write path "
                      f"and {len(summary.link_repairs):,} customers' links would be repaired (`--fix --apply`), "
                      "each audited.")
        return
    if summary.repairs:
        console.print(outcome_table(summary))
    if summary.link_repairs:
        console.print(link_outcome_table(summary))
    if summary.unfixable:
        console.print(unfixable_table(summary))
    _print_steward(summary)
    outcome = summary.outcome
    if outcome is not None:
        pending = sum(1 for o in outcome.outcomes for _, _, s in o.statuses if s == "PENDING")
        failed = [o for o in outcome.outcomes if o.error or any(s == "FAILED" for _, _, s in o.statuses)]
        link_audits = sum(len(o.audit_ids) for o in outcome.links)
        console.print(f"{len(outcome.outcomes):,} writes and {len(outcome.links):,} customers' link repairs in "
                      f"{outcome.seconds:.1f} s, {outcome.audited + link_audits:,} audit entries.")
        if pending:
            console.print(f"{pending:,} record writes wait in the outbox (a running gateway's worker applies them; "
                          "`c360 outbox list`).")
        for item in failed[:10]:
            console.print(Text(f"failed: {item.repair.customer_id} {item.repair.attribute}: {item.error or item.statuses}",
                               style="red"))
        for fix in [o for o in outcome.links if o.failed][:10]:
            for step in fix.steps:
                if step.status == "FAILED":
                    console.print(Text(f"failed: {fix.repair.customer_id} {step.action} {step.system.value}: "
                                       f"{step.message}", style="red"))


def _files(csv_file: Path | None, chart: Path | None, run_id: int | None, started: str, counts: Mapping[str, Any],
           runs: Sequence[ReconcileRunInfo], *, quiet: bool) -> None:
    """`quiet`: stdout carries JSON, so the notes go to stderr."""
    say = _stderr.print if quiet else console.print
    if csv_file is not None:
        write_csv(csv_file, csv_rows(run_id, started, counts))
        say(f"wrote {csv_file}")
    if chart is not None:
        chart.parent.mkdir(parents=True, exist_ok=True)
        chart.write_text(render_chart(runs), encoding="utf-8")
        say(f"wrote {chart} ({len(runs)} run(s))")

