"""Benchmark of change events: `python -m bench.events [--customers 10000] [--events 20]`.

How soon a change made directly in a system (through its own API, as a person or another
integration would) is visible through the gateway, and how long reconciliation takes.

Setup as in `bench.read`: seeded data (reused with --keep; events run on a copy), the three
simulators in a child process with 50 ms added to every API call, the initial match. Then:

(a) webhooks: a gateway with webhooks on and polling off. Per system, `--events` changes of a
    customer's address line 1 made with that system's connector from this process; the
    latency is from the system's answer to the write until `customer(id)` through the gateway
    shows the new value in that system's view (polled every 10 ms). The customer is viewed
    through the gateway just before each change, so its records are in the gateway's cache and
    only the change event (or the poll) can make the new value show. QuickBooks batches its
    notifications (the simulator's portal delay, 500 ms by default, like Intuit's aggregation).
(b) polling: a gateway with webhooks off polling every `--poll-interval-s`: the same for
    QuickBooks (CDC), fewer events; visible within one interval plus the poll's own work.
(c) reconcile: `c360 reconcile` over every record of every system (bench.reconcile).

Prints a table per scenario, and as the very last line one JSON object with
`event_visible_p50_ms`, `event_visible_p95_ms` (webhooks, all systems), the per-system and
polling figures, and `reconcile_10k_seconds` when the data set has 10,000 customers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import httpx
from rich import box
from rich.table import Table

from bench._acceptance import acceptance_table
from bench._args import add_data_arguments, add_keep_argument, report_console, write_result_line
from bench._args import data_dir as bench_data_dir
from bench._data import prepare_data
from bench._gateway import GatewayProcess, sandbox_env
from bench.read import LATENCY_MS, LatencySandbox, post, run_match
from bench.reconcile import reconcile_figures
from bench.write import working_copy
from connectors import Address, Connector, RecordChanges, SystemName
from gateway.config import Settings
from gateway.sources import close_connectors, effective_sources, open_connectors

#: The view of each system's records in `customer(id)`.
VIEW_FIELD = {SystemName.SHAREPOINT: "crm", SystemName.TEAMWORK: "projectManagement",
              SystemName.QUICKBOOKS: "billing"}
VIEW = ("query View($id: ID!) { customer(id: $id) { crm { id address { line1 } } "
        "projectManagement { id address { line1 } } billing { id address { line1 } } } }")
LINKED = ("query Linked($after: String) { customers(first: 100, after: $after) {"
          " pageInfo { hasNextPage endCursor } edges { node { id sourceRecords { system id } } } } }")
#: An event not visible after this long is counted as missed (and its latency as this).
VISIBLE_TIMEOUT_S = 30.0
POLL_EVERY_S = 0.01

TARGETS: tuple[tuple[str, str, float], ...] = (("events_missed", "==", 0.0),)


@contextlib.contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """`env` laid over os.environ while settings are read from it (as the gateway child reads them)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def percentile_ms(latencies: Sequence[float], q: float) -> float | None:
    if not latencies:
        return None
    ordered = sorted(latencies)
    return round(ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1] * 1000, 1)


async def linked_records(client: httpx.AsyncClient, url: str, limit: int) -> dict[SystemName, list[tuple[str, str]]]:
    """Per system, up to `limit` (customer id, record id) pairs, one record per customer."""
    found: dict[SystemName, list[tuple[str, str]]] = {s: [] for s in VIEW_FIELD}
    after: str | None = None
    while True:
        page = (await post(client, url, LINKED, {"after": after}))["data"]["customers"]
        for edge in page["edges"]:
            for record in edge["node"]["sourceRecords"]:
                pairs = found[SystemName(record["system"].lower())]
                if len(pairs) < limit and all(c != edge["node"]["id"] for c, _ in pairs):
                    pairs.append((edge["node"]["id"], record["id"]))
        if all(len(p) >= limit for p in found.values()) or not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


async def change_line1(connector: Connector, record_id: str, line1: str) -> None:
    """What a person editing the record in the system's own UI does: one address line changed."""
    current = await connector.fetch(record_id)
    address = replace(current.address or Address(), line1=line1)
    await connector.update(record_id, current.version, RecordChanges(address=address))


async def visible_after(client: httpx.AsyncClient, url: str, system: SystemName, customer: str, record: str,
                        line1: str) -> float | None:
    """Seconds until the gateway shows `line1` for the record (None: not within the timeout)."""
    started = time.perf_counter()
    while time.perf_counter() - started < VISIBLE_TIMEOUT_S:
        body = (await client.post(url, json={"query": VIEW, "variables": {"id": customer}})).json()
        views = ((body.get("data") or {}).get("customer") or {}).get(VIEW_FIELD[system]) or []
        if any(v["id"] == record and (v.get("address") or {}).get("line1") == line1 for v in views):
            return time.perf_counter() - started
        await asyncio.sleep(POLL_EVERY_S)
    return None


async def events(gateway_url: str, settings: Settings, systems: Sequence[SystemName], per_system: int,
                 log: TextIO, label: str) -> dict[str, Any]:
    """`per_system` out-of-band changes per system, one at a time; latency figures per system and overall."""
    url = gateway_url + "/graphql"
    run = uuid.uuid4().hex[:6]
    connectors = open_connectors(effective_sources(settings))
    latencies: dict[str, list[float]] = {}
    missed: dict[str, int] = {}
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0)) as client:
            pool = await linked_records(client, url, per_system + 1)
            for system in systems:
                pairs = pool[system]
                # The first change warms up (tokens, registrations finishing); not counted.
                for n, (customer, record) in enumerate(pairs):
                    line1 = f"{n} Event Street {run}"
                    # Someone has the customer open: the gateway holds its records in its cache,
                    # so the change is visible only once the gateway learns of it.
                    await client.post(url, json={"query": VIEW, "variables": {"id": customer}})
                    await change_line1(connectors[system], record, line1)
                    seconds = await visible_after(client, url, system, customer, record, line1)
                    if n == 0:
                        continue
                    if seconds is None:
                        missed[system.value] = missed.get(system.value, 0) + 1
                    else:
                        latencies.setdefault(system.value, []).append(seconds)
                log.write(f"   ({label}) {system.value}: {len(pairs) - 1} changes\n")
    finally:
        await close_connectors(connectors)
    every = [s for values in latencies.values() for s in values]
    return {
        "events": sum(len(v) for v in latencies.values()) + sum(missed.values()),
        "missed": sum(missed.values()),
        "p50_ms": percentile_ms(every, 50), "p95_ms": percentile_ms(every, 95), "max_ms": percentile_ms(every, 100),
        "by_system": {s: {"events": len(v), "missed": missed.get(s, 0), "p50_ms": percentile_ms(v, 50),
                          "p95_ms": percentile_ms(v, 95), "max_ms": percentile_ms(v, 100)}
                      for s, v in latencies.items()},
    }


def measure(args: argparse.Namespace, data_dir: Path, work_dir: Path, log: TextIO) -> dict[str, Any]:
    data_dir.mkdir(parents=True, exist_ok=True)
    log.write(f"== change events, {args.customers:,} customers (seed {args.seed}) in {data_dir}\n")
    generated, reused = prepare_data(data_dir, args.customers, args.seed)
    log.write("   reused generated data\n" if reused else f"   generated in {generated['seconds']:.1f}s\n")
    working_copy(data_dir, work_dir)
    figures: dict[str, Any] = {}
    with LatencySandbox(work_dir, work_dir / "bench-events-sandbox.log", args.latency_ms) as sandbox:
        env = sandbox_env(work_dir, sandbox.ports)
        figures["match_seconds"] = run_match(env, work_dir, log)
        with environment(env):
            settings = Settings()
        hooked = {**env, "C360_WEBHOOKS__ENABLED": "true", "C360_SYNC__POLL_INTERVAL_S": "0"}
        with GatewayProcess(hooked, work_dir / "bench-events-gateway-webhooks.log") as gw:
            log.write(f"   gateway with webhooks healthy after {gw.start_seconds:.1f}s\n")
            figures["webhooks"] = asyncio.run(
                events(gw.url, settings, list(VIEW_FIELD), args.events, log, "webhooks"))
        polled = {**env, "C360_WEBHOOKS__ENABLED": "false", "C360_SYNC__POLL_INTERVAL_S": str(args.poll_interval_s),
                  "C360_SYNC__SAFETY_MARGIN_S": "5"}
        with GatewayProcess(polled, work_dir / "bench-events-gateway-polling.log") as gw:
            log.write(f"   gateway polling every {args.poll_interval_s:g}s healthy after {gw.start_seconds:.1f}s\n")
            figures["polling"] = asyncio.run(
                events(gw.url, settings, [SystemName.QUICKBOOKS], args.poll_events, log, "polling"))
        if args.reconcile:
            figures["reconcile"] = reconcile_figures(env, work_dir, log)
    return figures


def scenario_table(title: str, figures: Mapping[str, Any]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE)
    for column in ("system", "events", "missed", "p50 ms", "p95 ms", "max ms"):
        table.add_column(column, justify="right" if column != "system" else "left")
    for system, row in figures["by_system"].items():
        table.add_row(system, str(row["events"]), str(row["missed"]), str(row["p50_ms"]), str(row["p95_ms"]),
                      str(row["max_ms"]))
    table.add_row("all", str(figures["events"]), str(figures["missed"]), str(figures["p50_ms"]),
                  str(figures["p95_ms"]), str(figures["max_ms"]))
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.events", description=(__doc__ or "").splitlines()[0])
    add_data_arguments(parser, latency_ms=LATENCY_MS)
    parser.set_defaults(customers=10_000)
    parser.add_argument("--events", type=int, default=20, help="changes per system with webhooks on")
    parser.add_argument("--poll-events", type=int, default=5, help="QuickBooks changes with polling only")
    parser.add_argument("--poll-interval-s", type=float, default=5.0, help="poll interval of the polling gateway")
    parser.add_argument("--no-reconcile", dest="reconcile", action="store_false", help="skip the reconcile run")
    add_keep_argument(parser)
    args = parser.parse_args(argv)

    out = sys.stdout
    console = report_console(out)
    with ExitStack() as stack:
        data_dir = bench_data_dir(args, stack, "events")
        figures = measure(args, data_dir, data_dir.parent / f"{data_dir.name}-events", sys.stderr)

    hooks, polls = figures["webhooks"], figures["polling"]
    console.print(scenario_table("Change visible through the gateway, webhooks on", hooks))
    console.print(scenario_table(f"Change visible through the gateway, polling every {args.poll_interval_s:g}s",
                                 polls))
    reconcile = figures.get("reconcile") or {}
    flat: dict[str, Any] = {
        "event_visible_p50_ms": hooks["p50_ms"],
        "event_visible_p95_ms": hooks["p95_ms"],
        "event_visible_max_ms": hooks["max_ms"],
        "event_visible_by_system": hooks["by_system"],
        "poll_visible_p50_ms": polls["p50_ms"],
        "poll_visible_p95_ms": polls["p95_ms"],
        "poll_interval_s": args.poll_interval_s,
        "events_missed": hooks["missed"] + polls["missed"],
        "reconcile_seconds": reconcile.get("reconcile_seconds"),
        "reconcile_10k_seconds": reconcile.get("reconcile_seconds") if args.customers == 10_000 else None,
        "reconcile": reconcile,
        "match_seconds": figures["match_seconds"],
        "customers": args.customers,
        "seed": args.seed,
        "latency_ms": args.latency_ms,
    }
    checks = {name: {"op": op, "target": target, "value": flat[name], "met": flat[name] == target}
              for name, op, target in TARGETS}
    console.print(acceptance_table(checks, issue=7))
    if reconcile:
        console.print(f"reconcile: {reconcile.get('reconcile_seconds')} s over {args.customers:,} customers")
    write_result_line(out, {**flat, "acceptance": checks})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
