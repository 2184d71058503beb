"""`c360`: serve the gateway, run the demo and the sandbox, match, export."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import sys
import time
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Optional, TextIO

import typer
import uvicorn

from gateway._console import console, counting_progress, figures_table, load_settings, staged_progress
from gateway.config import Settings
from gateway.logging_setup import configure_logging
from gateway.outbox_cli import outbox_app
from gateway.reconcile_cli import reconcile_command
from sandbox._faults import FaultSettings

app = typer.Typer(help="c360: one live Customer 360 over SharePoint, Teamwork and QuickBooks.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Local simulators of the three systems.", invoke_without_command=True)
xref_app = typer.Typer(help="The cross-reference index.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(xref_app, name="xref")
app.add_typer(outbox_app, name="outbox")
app.command("reconcile")(reconcile_command)


def _require_free(host: str, port: int, what: str, variable: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if sock.connect_ex((host, port)) == 0:
            console.print(f"[red]{what}: port {port} on {host} is already in use[/red] (set {variable} to another port)")
            raise typer.Exit(2)


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Listen address (default C360_HOST).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Listen port (default C360_PORT).")] = None,
) -> None:
    """Serve the gateway (GraphQL and GraphiQL at /graphql)."""
    from gateway.app import create_app

    settings = load_settings()
    configure_logging(settings.log_level)
    host, port = host or settings.host, port or settings.port
    app = _app_or_exit(create_app, settings)
    console.print(f"GraphiQL: [bold]http://{host}:{port}/graphql[/bold]")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _app_or_exit(create_app: Callable[[Settings], Any], settings: Settings) -> Any:
    """The gateway app; a configuration it cannot use (e.g. the API keys file) is a message, not a trace."""
    from gateway.auth import AuthConfigError

    try:
        return create_app(settings)
    except AuthConfigError as exc:
        console.print(f"[red]cannot start the gateway:[/red] {exc}")
        raise typer.Exit(2) from None


def _generate(settings: Settings, customers: int, seed: int, drift: float = 0.0) -> None:
    from sandbox.generate import generate
    from sandbox.runtime import credentials_for

    with staged_progress() as progress:
        summary = generate(
            settings.data_dir, customers=customers, seed=seed, credentials=credentials_for(settings.data_dir),
            progress=progress, drift=drift,
        )
    rows = {k: v for k, v in dataclasses.asdict(summary).items() if isinstance(v, (int, float, str))}
    rows.update({f"drifted: {attribute}": n for attribute, n in summary.drifted.items()})
    console.print(figures_table(f"Generated {customers:,} customers (seed {seed})", rows))


#: The documented rate limits (source-apis.md 2.6 and 3.8).
DOCUMENTED_LIMITS: dict[str, dict[str, int]] = {
    "teamwork": {"rate_limit_per_minute": 150},
    "quickbooks": {"rate_limit_per_minute": 500, "max_concurrent": 10},
}


def _sandbox_faults(settings: Settings, latency_ms: float | None, documented_limits: bool) -> dict[str, FaultSettings]:
    """Fault settings per simulator: config (C360_SANDBOX__FAULTS__...) first, then the CLI flags."""
    from pydantic import ValidationError

    from sandbox.runtime import SYSTEMS

    unknown = set(settings.sandbox.faults) - set(SYSTEMS)
    if unknown:
        console.print(f"[red]C360_SANDBOX__FAULTS names unknown systems: {', '.join(sorted(unknown))}[/red]")
        raise typer.Exit(2)
    faults: dict[str, FaultSettings] = {}
    for system in SYSTEMS:
        knobs = dict(settings.sandbox.faults.get(system, {}))
        if latency_ms is not None:
            knobs["latency_ms"] = latency_ms
        if documented_limits:
            knobs.update(DOCUMENTED_LIMITS.get(system, {}))
        try:
            faults[system] = FaultSettings.model_validate(knobs)
        except ValidationError as exc:
            console.print(f"[red]invalid fault settings for {system}:[/red] {exc}")
            raise typer.Exit(2) from None
    return faults


@sandbox_app.callback()
def sandbox(
    ctx: typer.Context,
    latency_ms: Annotated[Optional[float], typer.Option(help="Added latency of every simulated API call.")] = None,
    documented_limits: Annotated[
        bool, typer.Option(help="Throttle at the documented rate limits (Teamwork 150/min, QuickBooks 500/min, 10 concurrent).")
    ] = False,
    empty: Annotated[bool, typer.Option(help="Start with empty systems instead of generating demo data.")] = False,
) -> None:
    """Serve the three simulators (generates demo data on first start unless --empty)."""
    if ctx.invoked_subcommand is not None:
        return
    from sandbox._server import ServedApp, serve_all
    from sandbox.runtime import credentials_for, has_data, open_simulators

    settings = load_settings()
    configure_logging(settings.log_level)
    if not empty and not has_data(settings.data_dir):
        _generate(settings, 300, 42)
    faults = _sandbox_faults(settings, latency_ms, documented_limits)
    sims = open_simulators(None if empty else settings.data_dir, credentials_for(settings.data_dir), faults)
    ports = {"sharepoint": settings.sandbox.sharepoint_port, "teamwork": settings.sandbox.teamwork_port,
             "quickbooks": settings.sandbox.quickbooks_port}
    for name, port in ports.items():
        _require_free(settings.sandbox.host, port, f"{name} simulator", f"C360_SANDBOX__{name.upper()}_PORT")
        console.print(f"{name:<11} http://{settings.sandbox.host}:{port}")
    asyncio.run(serve_all([ServedApp(n, sims[n].app, settings.sandbox.host, ports[n]) for n in sims]))


@sandbox_app.command("generate")
def sandbox_generate(
    customers: Annotated[int, typer.Option(min=1, help="Real-world customers to project into the three systems.")] = 300,
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = 42,
    drift: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Known drift: users make differences of form only, and this share of the customers "
        "in 2+ systems get one record with another value of one attribute, listed in drift_truth.csv (0: the usual "
        "messy data).")] = 0.0,
) -> None:
    """Replace the sandbox data with N generated customers (and their ground truth)."""
    settings = load_settings()
    _generate(settings, customers, seed, drift)
    console.print(f"ground truth: {settings.data_dir / 'sandbox' / 'ground_truth.csv'}")
    if drift > 0:
        console.print(f"drift truth: {settings.data_dir / 'sandbox' / 'drift_truth.csv'}")


async def _run_match(settings: Settings, evaluate: Path | None, dry_run: bool = False) -> None:
    from gateway.matching import engine_settings
    from gateway.sources import close_connectors, effective_sources, open_connectors
    from xref import XrefService, create_engine, create_sessions, run_bulk_match, upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.resolved_database_url)
    await upgrade(engine)
    connectors = open_connectors(effective_sources(settings))
    try:
        service = XrefService(create_sessions(engine))
        with counting_progress([s.value for s in connectors]) as progress:
            summary = await run_bulk_match(
                connectors, service, progress=lambda system, n: progress(system.value, n),
                region=settings.phone_region, settings=engine_settings(settings.match), dry_run=dry_run,
            )
        title = "Dry run: what this match would change (nothing was written)" if dry_run else "Match summary"
        console.print(figures_table(title, _summary_rows(summary)))
        if dry_run:
            _show_changes(summary.changes, settings.data_dir / "dry-run-changes.csv")
        if evaluate is not None and not dry_run:
            from xref import evaluate_service

            scores = await evaluate_service(service, evaluate)
            console.print(figures_table("Against ground truth (pairwise)", _summary_rows(scores)))
    finally:
        await close_connectors(connectors)
        await engine.dispose()


def _show_changes(changes: Sequence[Any], path: Path, shown: int = 25) -> None:
    """The links a dry run would change: the first few as a table, all of them in a CSV file."""
    import csv

    from rich.table import Table

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["change", "system", "record_id", "customer_before", "customer_after"])
        writer.writerows([c.kind, c.system.value, c.record_id, c.before or "", c.after or ""] for c in changes)
    if not changes:
        console.print("No link would change.")
        return
    table = Table(title=f"Links that would change ({len(changes):,}; first {min(shown, len(changes))})")
    for column in ("change", "system", "record", "customer before", "customer after"):
        table.add_column(column, overflow="fold")
    for c in changes[:shown]:
        table.add_row(c.kind, c.system.value, c.record_id, c.before or "-", c.after or "(new)" if c.kind != "remove" else "-")
    console.print(table)
    console.print(f"all changes: {path}")


def _summary_rows(summary: object) -> dict[str, object]:
    rows: dict[str, object] = {}
    for key, value in dataclasses.asdict(summary).items():  # type: ignore[call-overload]
        if key == "changes":
            continue
        if isinstance(value, dict):
            for sub, n in value.items():
                rows[f"{key.replace('_', ' ')}: {sub}"] = n
        elif isinstance(value, bool):
            rows[key.replace("_", " ")] = "yes" if value else "no"
        elif isinstance(value, float):
            rows[key.replace("_", " ")] = f"{value:.3f}"
        else:
            rows[key.replace("_", " ")] = value
    return rows


@app.command()
def match(
    evaluate: Annotated[
        Optional[Path], typer.Option(help="Score the links against a ground-truth CSV (entity,system,record_id).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Report which links a changed rule, weight or threshold would add, remove or move; write nothing.")
    ] = False,
) -> None:
    """Bulk match: read every system, link records of the same customer, report what changed."""
    settings = load_settings()
    configure_logging(settings.log_level)
    asyncio.run(_run_match(settings, evaluate, dry_run))


@xref_app.command("export")
def xref_export(
    format: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    output: Annotated[Optional[Path], typer.Option(help="File to write (default: stdout).")] = None,
) -> None:
    """Export the links: golden id, system, record id, confidence, decided by."""
    from xref import XrefService, create_engine, create_sessions, export_links

    if format not in ("csv", "json"):
        console.print(f"[red]--format must be csv or json, got {format!r}[/red]")
        raise typer.Exit(2)
    settings = load_settings()

    async def run(out: TextIO) -> int:
        engine = create_engine(settings.resolved_database_url)
        try:
            return await export_links(XrefService(create_sessions(engine)), out, format)  # type: ignore[arg-type]
        finally:
            await engine.dispose()

    if output is None:
        asyncio.run(run(sys.stdout))
    else:
        with output.open("w", encoding="utf-8", newline="") as out:
            rows = asyncio.run(run(out))
        console.print(f"wrote {rows:,} links to {output}")


@app.command("export-schema")
def export_schema(
    output: Annotated[Path, typer.Option(help="Where to write the SDL.")] = Path("schema.graphql"),
) -> None:
    """Print the GraphQL schema to schema.graphql (the public contract; a test checks it is current)."""
    from resolvers import schema

    output.write_text(schema.as_str() + "\n")
    console.print(f"wrote {output}")


@app.command()
def demo(
    customers: Annotated[int, typer.Option(min=1, help="Customers to generate on first start.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 42,
    fresh: Annotated[bool, typer.Option(help="Regenerate the sandbox data and rebuild the index.")] = False,
) -> None:
    """Everything on embedded defaults: simulators with generated data, SQLite, initial match, the gateway."""
    from gateway.app import create_app
    from sandbox._server import ThreadedServer
    from sandbox.runtime import credentials_for, has_data, open_simulators

    started = time.monotonic()
    settings = load_settings()
    configure_logging(settings.log_level)
    if not settings.use_sandbox:
        console.print("[red]the demo runs on the sandbox; unset C360_USE_SANDBOX[/red]")
        raise typer.Exit(2)
    if "enabled" not in settings.webhooks.model_fields_set:
        settings.webhooks.enabled = True  # the simulators notify the demo's gateway unless told otherwise
    _require_free(settings.host, settings.port, "gateway", "C360_PORT")
    ports = {"sharepoint": settings.sandbox.sharepoint_port, "teamwork": settings.sandbox.teamwork_port,
             "quickbooks": settings.sandbox.quickbooks_port}
    for name, port in ports.items():
        _require_free(settings.sandbox.host, port, f"{name} simulator", f"C360_SANDBOX__{name.upper()}_PORT")
    if fresh or not has_data(settings.data_dir):
        (settings.data_dir / "c360.sqlite3").unlink(missing_ok=True)
        _generate(settings, customers, seed)
    sims = open_simulators(settings.data_dir, credentials_for(settings.data_dir))
    servers = [ThreadedServer(sims[name].app, settings.sandbox.host, port).start() for name, port in ports.items()]
    try:
        for name, server in zip(ports, servers):
            console.print(f"{name:<11} simulator  {server.url}")
        asyncio.run(_run_match(settings, settings.data_dir / "sandbox" / "ground_truth.csv"))
        url = f"http://{settings.host}:{settings.port}/graphql"
        console.print(f"\n[bold green]c360 is ready[/bold green] in {time.monotonic() - started:.1f}s")
        console.print(f"GraphiQL: [bold]{url}[/bold]   (Ctrl-C to stop)\n")
        uvicorn.run(_app_or_exit(create_app, settings), host=settings.host, port=settings.port, log_level="warning")
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    app()
