"""Benchmark of the write path: `python -m bench.write [--customers 300] [--concurrency 16]`.

Setup as in `bench.read`: seeded data (reused with --keep), the three simulators in a child
process with 50 ms added to every API call, the initial match, the gateway as one uvicorn
worker (default settings). Updates change the simulators' data, so they run on a fresh copy of
it and a kept data dir stays as generated.

Each request is `updateCustomer` on a customer with one record in each system, changing its
name (SharePoint and QuickBooks publish it, Teamwork consumes it) and its address (all three),
with values and an idempotency key of its own: every update writes to every system.

Scenarios (issue 6, acceptance 4), after a short warm-up, each customer updated once in (a) and (b):
(a) serial, customers a tool has just shown (viewed through the gateway first, as an edit form
does): the latency of one update (`update_p50_ms`) and the upstream calls it makes (the
simulators' `/_admin/stats`); the write takes its version tokens from the gateway's cache;
(b) serial, customers nobody read recently: the write reads each record first (`update_cold_*`);
(c) under load: N closed-loop clients, each with customers of its own, so no two updates in
flight touch one customer (those legitimately conflict or queue behind each other). Then a
read-back through the gateway checks that the last values written are what each system holds.

Prints a table per scenario, and as the very last line one JSON object with the figures and the
acceptance target with whether it is met.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
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
from bench._load import LoadResult, Reply, UpstreamCounter, run_load
from bench.read import (
    LATENCY_MS,
    CpuClock,
    IDS,
    SYSTEMS,
    LatencySandbox,
    measured,
    post,
    run_async,
    run_match,
    summary,
)
from sandbox.runtime import sandbox_dir

UPDATE = """
mutation Update($id: ID!, $input: CustomerInput!, $key: String) {
  updateCustomer(id: $id, input: $input, idempotencyKey: $key) {
    __typename
    ... on CustomerUpdated { replayed outcomes { system status code } }
    ... on InvalidInput { message problems { path code message } }
    ... on WriteFailed { message outcomes { system status code error } }
    ... on ConflictError { message attribute system outcomes { system status code } }
    ... on CustomerNotFound { message }
    ... on IdempotencyKeyReused { message }
    ... on WriteInProgress { message }
  }
}
"""
#: Reads back what each system holds after the runs (the gateway drops its cache entries on a write).
READ_BACK = (
    "query Check($id: ID!) { customer(id: $id) {"
    " crm { name address { line1 } } projectManagement { name address { line1 } }"
    " billing { name address { line1 } } } }"
)
READ_BACK_FIELDS = {"sharepoint": "crm", "teamwork": "projectManagement", "quickbooks": "billing"}

#: Issue 6, acceptance 4: (figure, comparison, target). The latency is one update with nothing
#: queued in front of it (serial); the load run is a throughput figure.
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("update_p50_ms", "<", 80.0),
    ("update_errors", "==", 0.0),
)


def update_body(customer: str, n: int, run: str) -> dict[str, Any]:
    """The request body of update number `n` of this run: values and key no other request uses."""
    return {
        "query": UPDATE,
        "variables": {
            "id": customer,
            "key": f"bench-write-{run}-{n}",
            "input": {
                "name": f"Bench Co {n}",
                "address": {"line1": f"{n} Bench Street", "city": "Portland", "state": "OR",
                            "postalCode": "97204", "country": "US"},
            },
        },
    }


class Updates:
    """Payloads for `run_load` numbered from `first`, remembering the last number sent to each customer.

    With `slices`, each load worker updates customers of its own (`pool[w::slices]`): `run_load`
    builds a request's payload in the worker task that sends it, so the task tells the worker.
    """

    def __init__(self, pool: Sequence[str], first: int, run: str, last_sent: dict[str, int],
                 slices: int | None = None) -> None:
        self.first = first
        self.run = run
        self.last_sent = last_sent
        self._pool = list(pool)
        self._slices = [self._pool[w::slices] for w in range(slices)] if slices else None
        self._workers: dict[asyncio.Task[Any], int] = {}
        self._sent: Counter[int] = Counter()

    def __call__(self, i: int) -> Mapping[str, Any]:
        if self._slices is None:
            customer = self._pool[i % len(self._pool)]
        else:
            task = asyncio.current_task()
            assert task is not None
            worker = self._workers.setdefault(task, len(self._workers))
            if worker >= len(self._slices):
                raise RuntimeError(f"more load workers than the {len(self._slices)} customer slices")
            mine = self._slices[worker]
            customer = mine[self._sent[worker] % len(mine)]
            self._sent[worker] += 1
        n = self.first + i
        self.last_sent[customer] = n
        return update_body(customer, n, self.run)


def outcome_figures(replies: Sequence[Reply]) -> dict[str, Any]:
    """Result types, per-system outcome statuses, and every reply that is not `CustomerUpdated` as an error."""
    types: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    by_system: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    errors: list[Any] = []
    systems_written = 0
    replayed = 0
    for reply in replies:
        body = reply.body
        result = ((body or {}).get("data") or {}).get("updateCustomer")
        if reply.transport_error is not None or body is None or not isinstance(result, dict):
            kind = "TRANSPORT" if reply.transport_error else "HTTP" if body is None else "GRAPHQL_ERROR"
            types[kind] += 1
            errors.append(reply.transport_error or (body or {}).get("errors") or f"HTTP {reply.status}")
            continue
        kind = str(result.get("__typename"))
        types[kind] += 1
        outcomes = result.get("outcomes") or []
        for outcome in outcomes:
            status = str(outcome.get("status"))
            statuses[status] += 1
            by_system[f"{str(outcome.get('system')).lower()} {status}"] += 1
            if outcome.get("code"):
                codes[f"{str(outcome.get('system')).lower()} {outcome['code']}"] += 1
        if kind == "CustomerUpdated":
            systems_written += len(outcomes)
            replayed += bool(result.get("replayed"))
        else:
            errors.append(result)
    updated = types["CustomerUpdated"]
    return {
        "result_types": dict(types.most_common()),
        "outcomes": dict(statuses.most_common()),
        "outcomes_by_system": dict(sorted(by_system.items())),
        "outcome_codes": dict(codes.most_common()),
        "systems_per_update": round(systems_written / updated, 2) if updated else None,
        "replayed": replayed,
        "updated": updated,
        "errors": len(errors),
        "first_update_error": json.dumps(errors[0], default=str)[:1500] if errors else "",
    }


def scenario_figures(name: str, result: LoadResult, calls: Mapping[str, int],
                     notes: Mapping[str, Any]) -> dict[str, Any]:
    figures = {**summary(name, result, calls, notes), **outcome_figures(result.replies)}
    figures["updates_per_s"] = round(figures["updated"] / result.seconds, 1) if result.seconds > 0 else 0.0
    return figures


async def update_pool(client: httpx.AsyncClient, url: str) -> tuple[int, list[str], int]:
    """(golden customers, those with exactly one record in each system, those in all three with more).

    Customers with two records in one system are left out: a name goes to only one of them where
    the system keeps names unique (QuickBooks DisplayName), so the read-back could not expect the
    last name in every record; they are about one customer in ten, not the path measured.
    """
    golden = 0
    single: list[str] = []
    duplicated = 0
    after: str | None = None
    while True:
        page = (await post(client, url, IDS, {"after": after}))["data"]["customers"]
        for edge in page["edges"]:
            golden += 1
            counts = Counter(r["system"] for r in edge["node"]["sourceRecords"])
            if set(counts) >= {s.upper() for s in SYSTEMS}:
                if all(n == 1 for n in counts.values()):
                    single.append(edge["node"]["id"])
                else:
                    duplicated += 1
        if not page["pageInfo"]["hasNextPage"]:
            return golden, single, duplicated
        after = page["pageInfo"]["endCursor"]


async def read_back(client: httpx.AsyncClient, url: str, last_sent: Mapping[str, int], limit: int) -> dict[str, Any]:
    """Whether each system now holds the last name and address line sent to a customer (up to `limit` of them)."""
    checked = 0
    mismatches: list[dict[str, Any]] = []
    for customer, n in list(last_sent.items())[-limit:] if limit > 0 else []:
        body = await post(client, url, READ_BACK, {"id": customer})
        view = body["data"]["customer"] or {}
        checked += 1
        for system, field in READ_BACK_FIELDS.items():
            # A list: a customer may hold more than one record in a system, and each gets the update.
            for record in view.get(field) or [{}]:
                held = (record.get("name"), (record.get("address") or {}).get("line1"))
                if held != (f"Bench Co {n}", f"{n} Bench Street"):
                    mismatches.append({"customer": customer, "system": system, "sent": n, "holds": held,
                                       "errors": body.get("errors")})
    return {"read_back_customers": checked, "read_back_mismatches": len(mismatches),
            "first_read_back_mismatch": json.dumps(mismatches[0], default=str)[:1500] if mismatches else ""}


async def scenarios(gateway_url: str, sims: Mapping[str, str], args: argparse.Namespace, log: TextIO,
                    cpu: CpuClock | None) -> dict[str, Any]:
    url = gateway_url + "/graphql"
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0)) as client:
        counter = UpstreamCounter(client, sims)
        golden, complete, duplicated = await update_pool(client, url)
        log.write(f"   {golden:,} golden customers, {len(complete):,} with one record in each system "
                  f"({duplicated:,} more in all three with duplicate records, left out)\n")
        if not complete:
            raise RuntimeError("no customer has one record in each system: did the match run?")
        run = uuid.uuid4().hex[:8]
        last_sent: dict[str, int] = {}
        # Warm-up: tokens, connection pools and the first SQLite statements are not an update's latency.
        warm = Updates(complete, 0, run, last_sent)
        await run_load(client, url, warm, concurrency=1, max_requests=args.warmup, max_seconds=args.seconds)

        # Two serial runs on customers not updated before, each customer once: (a) ones a tool has
        # just shown (viewed through the gateway first, as an edit form does), (b) ones nobody read
        # recently (the write reads each record first for its version token).
        rest = complete[args.warmup:]
        each = max(1, min(args.serial_requests, len(rest) // 2))
        viewed_pool, cold_pool = rest[:each], rest[each:2 * each]
        await run_load(client, url, lambda i: {"query": READ_BACK, "variables": {"id": viewed_pool[i]}},
                       concurrency=4, max_requests=len(viewed_pool), max_seconds=args.seconds)
        viewed = Updates(viewed_pool, args.warmup, run, last_sent)
        res, calls = await measured(counter, client, url, viewed, concurrency=1, max_requests=len(viewed_pool),
                                    max_seconds=args.seconds, cpu=cpu)
        figures: dict[str, Any] = {"serial": scenario_figures("updateCustomer, serial, customer just viewed", res,
                                                               calls, {"distinct_customers": res.count})}
        log.write("   (a) serial updates of viewed customers done\n")
        cold = Updates(cold_pool, args.warmup + each, run, last_sent)
        res, calls = await measured(counter, client, url, cold, concurrency=1, max_requests=len(cold_pool),
                                    max_seconds=args.seconds, cpu=cpu)
        figures["cold"] = scenario_figures("updateCustomer, serial, customer not read recently", res, calls,
                                           {"distinct_customers": res.count})
        log.write("   (b) serial updates of customers not read recently done\n")

        # Each worker needs a customer of its own; with fewer customers, fewer workers.
        workers = min(args.concurrency, len(complete))
        loaded = Updates(complete, args.warmup + 2 * each, run, last_sent, slices=workers)
        res, calls = await measured(counter, client, url, loaded, concurrency=workers, max_requests=args.requests,
                                    max_seconds=args.seconds, cpu=cpu)
        figures["load"] = scenario_figures(f"updateCustomer, {workers} concurrent clients", res, calls, {
            "distinct_customers": min(res.count, len(complete)), "customers_per_client": len(complete) // workers,
        })
        log.write("   (c) updates under load done\n")
        figures["read_back"] = await read_back(client, url, last_sent, args.read_back)
        figures["customers_updated_pool"] = len(complete)
        figures["customers_with_duplicates_left_out"] = duplicated
        return figures


# --- output -------------------------------------------------------------------------------------


def scenario_table(figures: Mapping[str, Any]) -> Table:
    table = Table(title=figures["scenario"], title_justify="left", show_header=False, box=box.SIMPLE)
    table.add_column(style="bold")
    table.add_column(justify="right", overflow="fold")
    rows: list[tuple[str, Any]] = [
        ("requests", f"{figures['requests']:,} at concurrency {figures['concurrency']} in {figures['seconds']}s"),
        ("updates/s", f"{figures['updates_per_s']:,.1f}"),
        ("p50 / p95 / p99 / max ms",
         f"{figures['p50_ms']} / {figures['p95_ms']} / {figures['p99_ms']} / {figures['max_ms']}"),
        ("result types", " ".join(f"{k} {v}" for k, v in figures["result_types"].items())),
        ("outcomes", " ".join(f"{k} {v}" for k, v in figures["outcomes"].items())),
        ("systems written / update", figures["systems_per_update"]),
        ("errors (not CustomerUpdated)", figures["errors"]),
        ("CPU ms / update", " ".join(f"{k} {v}" for k, v in figures["cpu_ms_per_request"].items())),
        ("upstream calls / update", figures["upstream_per_query"]),
    ]
    rows += [(f"  {system}", n) for system, n in figures["upstream_by_system"].items()]
    rows += [(f"  {label}", n) for label, n in figures["upstream_by_path"].items()]
    if figures["outcome_codes"]:
        rows.append(("outcome codes", " ".join(f"{k} {v}" for k, v in figures["outcome_codes"].items())))
    for label, value in rows:
        table.add_row(label, str(value))
    return table


def acceptance(flat: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}
    for name, op, target in TARGETS:
        value = flat.get(name)
        met = None if value is None else value < target if op == "<" else value == target
        checks[name] = {"op": op, "target": target, "value": value, "met": met}
    return checks


# --- main -----------------------------------------------------------------------------------------


def working_copy(data_dir: Path, work_dir: Path) -> None:
    """A fresh copy of the generated simulator data in `work_dir` (updates change it)."""
    shutil.rmtree(work_dir, ignore_errors=True)
    shutil.copytree(sandbox_dir(data_dir), sandbox_dir(work_dir))


def measure(args: argparse.Namespace, data_dir: Path, work_dir: Path, log: TextIO) -> dict[str, Any]:
    """Set up, run the scenarios, stop every child process; the figures."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log.write(f"== write path, {args.customers:,} customers (seed {args.seed}) in {data_dir}\n")
    generated, reused = prepare_data(data_dir, args.customers, args.seed)
    log.write("   reused generated data\n" if reused else f"   generated in {generated['seconds']:.1f}s\n")
    working_copy(data_dir, work_dir)
    with LatencySandbox(work_dir, work_dir / "bench-write-sandbox.log", args.latency_ms) as sandbox:
        log.write(f"   simulators answering after {sandbox.start_seconds:.1f}s (pid {sandbox.pid}), "
                  f"{args.latency_ms:g} ms latency each\n")
        env = sandbox_env(work_dir, sandbox.ports)
        match_seconds = run_match(env, work_dir, log)
        with GatewayProcess(env, work_dir / "bench-write-gateway.log") as gw:
            log.write(f"   gateway healthy after {gw.start_seconds:.1f}s (pid {gw.pid})\n")
            cpu = CpuClock({"gateway": gw.pid, "simulators": sandbox.pid})
            figures = run_async(scenarios(gw.url, sandbox.urls, args, log, cpu))
    return {**figures, "match_seconds": match_seconds}


def flat_figures(figures: Mapping[str, Any], latency_ms: float) -> dict[str, Any]:
    serial, cold, load = figures["serial"], figures["cold"], figures["load"]
    by_system = serial["upstream_by_system"]
    return {
        # One update's latency (serial) of a customer just viewed; the same under concurrent
        # clients is a throughput figure.
        "update_p50_ms": serial["p50_ms"],
        "update_p95_ms": serial["p95_ms"],
        "update_p99_ms": serial["p99_ms"],
        "update_cold_p50_ms": cold["p50_ms"],
        "update_cold_p95_ms": cold["p95_ms"],
        "upstream_per_cold_update_by_system": cold["upstream_by_system"],
        "updates_per_s": load["updates_per_s"],
        "load_requests_per_s": load["rps"],
        "load_p50_ms": load["p50_ms"],
        "load_p95_ms": load["p95_ms"],
        "load_p99_ms": load["p99_ms"],
        "load_concurrency": load["concurrency"],
        "outcomes": {"serial": serial["outcomes"], "cold": cold["outcomes"], "load": load["outcomes"]},
        "result_types": {"serial": serial["result_types"], "cold": cold["result_types"], "load": load["result_types"]},
        "update_errors": serial["errors"] + cold["errors"] + load["errors"],
        "upstream_per_update_by_system": by_system,
        "upstream_per_update_by_path": serial["upstream_by_path"],
        # A system's calls for one update are sequential (read, then write): the slowest system's
        # count times the added latency is a floor no gateway overhead is in.
        "latency_floor_ms": round(max(by_system.values()) * latency_ms, 1) if by_system else None,
        "cpu_ms_per_update": {"serial": serial["cpu_ms_per_request"], "cold": cold["cpu_ms_per_request"],
                              "load": load["cpu_ms_per_request"]},
        **figures["read_back"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.write", description=(__doc__ or "").splitlines()[0])
    add_data_arguments(parser, latency_ms=LATENCY_MS)
    parser.add_argument("--warmup", type=int, default=5, help="updates before the serial run, not counted")
    parser.add_argument("--serial-requests", type=int, default=100,
                        help="budget of each serial run (viewed, cold); each customer is updated once")
    parser.add_argument("--concurrency", type=int, default=16, help="clients of the load run")
    parser.add_argument("--requests", type=int, default=500, help="budget of the load run")
    parser.add_argument("--read-back", type=int, default=20, help="customers whose last update is read back")
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget of each run")
    add_keep_argument(parser)
    args = parser.parse_args(argv)

    out = sys.stdout
    console = report_console(out)
    with ExitStack() as stack:
        data_dir = bench_data_dir(args, stack, "write")
        figures = measure(args, data_dir, data_dir.parent / f"{data_dir.name}-write", sys.stderr)

    for key in ("serial", "cold", "load"):
        console.print(scenario_table(figures[key]))
    flat = flat_figures(figures, args.latency_ms)
    checks = acceptance(flat)
    console.print(acceptance_table(checks, issue=6))
    slowest = max(flat["upstream_per_update_by_system"].items(), key=lambda kv: kv[1], default=None)
    if slowest is not None:
        console.print(f"latency floor: {slowest[0]} makes {slowest[1]:g} sequential calls per update, "
                      f"x {args.latency_ms:g} ms = {flat['latency_floor_ms']} ms before any gateway work")
    for key in ("serial", "cold", "load"):
        if figures[key]["first_update_error"]:
            console.print(f"[red]{key}: {figures[key]['errors']} updates failed; the first:[/red] "
                          f"{figures[key]['first_update_error']}")
    if flat["first_read_back_mismatch"]:
        console.print(f"[red]read-back: {flat['read_back_mismatches']} values differ from the last update; "
                      f"the first:[/red] {flat['first_read_back_mismatch']}")
    verdicts = [c["met"] for c in checks.values() if c["met"] is not None]
    result = {
        **flat,
        "customers": args.customers,
        "seed": args.seed,
        "latency_ms": args.latency_ms,
        "customers_updated_pool": figures["customers_updated_pool"],
        "customers_with_duplicates_left_out": figures["customers_with_duplicates_left_out"],
        "match_seconds": figures["match_seconds"],
        "scenarios": {"serial": figures["serial"], "cold": figures["cold"], "load": figures["load"]},
        "acceptance": checks,
        "acceptance_met": all(verdicts) if verdicts else None,
    }
    write_result_line(out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
