"""Benchmark of the read path: `python -m bench.read [--customers 300] [--concurrency 16]`.

Setup: generate seeded data (child process, reused with --keep), serve the three
simulators in a child process with 50 ms added to every API call, run the initial match
(`c360 match`, child process), then serve the gateway as one uvicorn worker in another
child process. The load generator runs here (raw keep-alive HTTP/1.1, `bench._rawhttp`, on
uvloop when installed; closed loop, bounded in requests and in time) and the simulators count
the upstream calls (`/_admin/stats`).

Scenarios (issue 5): (a) one customer's whole view, uncached: a gateway with the read
cache off (or, if it cannot be turned off, a TTL too short to hit) and a different
customer per request; also a serial pass, which is the pure latency of one query;
(b) the same query cached: one customer repeatedly after a warm-up, on a gateway with
the default cache; (c) a page of 100 customers with every field, uncached, plus one
probe query per relation so upstream calls are attributed to system/relation exactly;
(d) QuickBooks in outage, whole view: other systems' fields must resolve, billing must
carry SOURCE_UNAVAILABLE errors. Two variants show what a setting buys: (c) again with
SharePoint asked one key per `$batch` sub-request (`C360_SOURCES__SHAREPOINT__OR_FILTER_TERMS=0`,
what a tenant refusing `or` in filters gets), and (b) again with the whole-response cache
off (record cache only).

Prints a table per scenario, and as the very last line one JSON object with the figures
and the issue's acceptance targets with whether each is met.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Coroutine, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO, TypeVar

import httpx
import psutil
from rich import box
from rich.table import Table

from bench._acceptance import acceptance_table
from bench._args import add_data_arguments, add_keep_argument, report_console, write_result_line
from bench._args import data_dir as bench_data_dir
from bench._data import prepare_data
from bench._gateway import GatewayProcess, sandbox_env
from bench._load import (
    LoadResult,
    Reply,
    UpstreamCounter,
    by_relation,
    by_system,
    graphql_errors,
    per_query,
    run_load,
)
from bench._sandbox import SandboxProcess
from connectors import CacheSettings
from gateway.config import Settings
from resolvers.limits import GraphQLLimits, operation_cost
from resolvers.schema import build_schema

SYSTEMS = ("sharepoint", "teamwork", "quickbooks")
LATENCY_MS = 50.0
MATCH_TIMEOUT_S = 1800.0

ADDRESS = "address { line1 line2 city state postalCode country }"
RECORD = f"system id url version updatedAt name email phone status {ADDRESS}"
#: Every field of the whole view (issue 5 "What to build"); `$invoices` is the invoice page size.
VIEW = f"""
fragment View on Customer {{
  id name email phone website status lifecycle balance {ADDRESS}
  sourceRecords {{ system id url confidence decidedBy score evidence {{ attribute level weight }} }}
  crm {{ {RECORD} }}
  projectManagement {{ {RECORD} website }}
  billing {{ {RECORD} balance personName {{ given family full }} }}
  projects {{ id name status startDate endDate owner url }}
  invoices(first: $invoices) {{
    totalCount pageInfo {{ hasNextPage endCursor }}
    edges {{ cursor node {{ id number date dueDate total balance currency status url }} }}
  }}
  documents {{ id name type url modified }}
  conflicts {{ attribute values {{ system recordId value }} winner {{ system recordId value }} }}
}}
"""
ONE = "query One($id: ID!, $invoices: Int!) { customer(id: $id) { ...View } }" + VIEW
PAGE = (
    "query Page($after: String, $invoices: Int!) { customers(first: 100, after: $after) {"
    " pageInfo { hasNextPage endCursor } edges { node { ...View } } } }" + VIEW
)
IDS = (
    "query Ids($after: String) { customers(first: 100, after: $after) {"
    " pageInfo { hasNextPage endCursor } edges { node { id sourceRecords { system } } } } }"
)
#: One query per system/relation, each selecting only that relation, so a path that serves several
#: relations (QuickBooks `query`, Graph `$batch`) is still attributed exactly.
PROBES: dict[str, str] = {
    "sharepoint/records": "crm { id name }",
    "sharepoint/documents": "documents { id }",
    "teamwork/records": "projectManagement { id name }",
    "teamwork/projects": "projects { id }",
    "quickbooks/records": "billing { id name balance }",
    "quickbooks/invoices": "invoices(first: 5) { totalCount edges { node { id } } }",
}
#: Fields whose resolver reads only one system: in an outage they must resolve (the others) or
#: fail with that system's code (QuickBooks).
OTHER_SYSTEM_FIELDS = ("crm", "projectManagement", "projects", "documents")
QUICKBOOKS_FIELDS = ("billing", "invoices", "balance")

#: Issue 5, Acceptance 1-3: (figure, comparison, target).
TARGETS: tuple[tuple[str, str, float], ...] = (
    # Acceptance 1 is the latency of one view: measured with nothing queued in front of it.
    ("one_uncached_p50_ms", "<", 70.0),
    ("page100_uncached_p50_ms", "<", 250.0),
    ("page100_max_requests_per_relation", "<=", 2.0),
    ("one_cached_rps", ">=", 500.0),
)


class LatencySandbox(SandboxProcess):
    """The bench's sandbox with a fixed latency on every system (`C360_SANDBOX__FAULTS__<S>__LATENCY_MS`)."""

    def __init__(self, data_dir: Path, log_path: Path, latency_ms: float) -> None:
        super().__init__(data_dir, log_path)
        self.latency_ms = latency_ms

    def _env(self) -> Mapping[str, str]:
        return {
            **super()._env(),
            **{f"C360_SANDBOX__FAULTS__{s.upper()}__LATENCY_MS": str(self.latency_ms) for s in SYSTEMS},
        }


def uncached_env() -> tuple[dict[str, str], str]:
    """Gateway env that turns the read cache off, and how (the knob depends on the cache's version)."""
    if "enabled" in CacheSettings.model_fields:
        return {"C360_SOURCES__CACHE__ENABLED": "false"}, "cache off (C360_SOURCES__CACHE__ENABLED=false)"
    try:
        CacheSettings(ttl_s=0)
        ttl = "0"
    except ValueError:
        ttl = "0.001"  # ttl_s must be > 0: a millisecond never serves a later request
    env = {"C360_SOURCES__CACHE__TTL_S": ttl, "C360_SOURCES__CACHE__STALE_TTL_S": "0",
           "C360_SOURCES__CACHE__NEGATIVE_TTL_S": "0"}
    return env, f"cache TTL {ttl}s, no stale or negative entries"


def run_match(env: Mapping[str, str], data_dir: Path, log: TextIO) -> float:
    """`c360 match` in a child process with the bench's env; seconds taken."""
    (data_dir / "c360.sqlite3").unlink(missing_ok=True)
    (data_dir / "quickbooks-token.json").unlink(missing_ok=True)  # issued by an earlier simulator process
    started = time.perf_counter()
    log_path = data_dir / "bench-read-match.log"
    with log_path.open("wb") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "match"],
            env={**os.environ, **env, "COLUMNS": "120"},
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=MATCH_TIMEOUT_S,
        )
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"c360 match failed with code {proc.returncode}:\n{tail}")
    log.write(f"   matched in {time.perf_counter() - started:.1f}s (log {log_path})\n")
    return round(time.perf_counter() - started, 2)


# --- GraphQL helpers ------------------------------------------------------------------------------


def query_cost(query: str, variables: Mapping[str, Any]) -> int:
    """The gateway's own cost estimate of a document, computed here to pick page sizes that pass."""
    schema = build_schema(GraphQLLimits())
    from graphql import parse

    return operation_cost(schema._schema, parse(query), None, variables)


async def post(client: httpx.AsyncClient, url: str, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
    resp = await client.post(url, json={"query": query, "variables": dict(variables)})
    body = resp.json()
    if not isinstance(body, dict) or body.get("data") is None:
        raise RuntimeError(f"query failed (HTTP {resp.status_code}): {json.dumps(body)[:2000]}")
    return body


async def customer_ids(client: httpx.AsyncClient, url: str) -> tuple[list[str], list[str], list[str | None]]:
    """(every golden id, those linked in all three systems, the page cursors of `customers(first: 100)`)."""
    ids: list[str] = []
    complete: list[str] = []
    cursors: list[str | None] = [None]
    after: str | None = None
    while True:
        body = await post(client, url, IDS, {"after": after})
        page = body["data"]["customers"]
        for edge in page["edges"]:
            node = edge["node"]
            ids.append(node["id"])
            if {r["system"] for r in node["sourceRecords"]} >= {s.upper() for s in SYSTEMS}:
                complete.append(node["id"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        cursors.append(after)
    return ids, complete, cursors


def first_error(errors: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(errors[0], default=str)[:1500] if errors else ""


def error_field(error: Mapping[str, Any]) -> str | None:
    """The Customer field an error sits on (`billing` in ["customer", "billing", 0])."""
    path = [p for p in error.get("path") or [] if isinstance(p, str)]
    for name in path:
        if name not in ("customer", "customers", "edges", "node"):
            return name
    return None


# --- scenarios ------------------------------------------------------------------------------------


class CpuClock:
    """CPU seconds (user + system) of the processes a scenario loads, so a figure can say where time went."""

    def __init__(self, pids: Mapping[str, int | None]) -> None:
        self._procs = {name: psutil.Process(pid) for name, pid in pids.items() if pid is not None}

    def read(self) -> dict[str, float]:
        times: dict[str, float] = {"bench": time.process_time()}
        for name, proc in self._procs.items():
            try:
                spent = proc.cpu_times()
                times[name] = spent.user + spent.system
            except psutil.Error:
                pass
        return times


async def measured(
    counter: UpstreamCounter, client: httpx.AsyncClient, url: str, payload: Any, *,
    concurrency: int, max_requests: int, max_seconds: float, cpu: CpuClock | None = None,
) -> tuple[LoadResult, Counter[str]]:
    """One load run between a reset and a read of the simulators' call counters (and the CPU clocks)."""
    await counter.reset()
    before = cpu.read() if cpu is not None else {}
    result = await run_load(client, url, payload, concurrency=concurrency, max_requests=max_requests,
                            max_seconds=max_seconds)
    after = cpu.read() if cpu is not None else {}
    result.cpu_ms_per_request = {
        name: round((after[name] - before[name]) * 1000 / result.count, 2)
        for name in after if name in before and result.count
    }
    return result, await counter.read()


def summary(name: str, result: LoadResult, calls: Mapping[str, int], notes: Mapping[str, Any]) -> dict[str, Any]:
    errors = graphql_errors(result.replies)
    return {
        "scenario": name,
        "requests": result.count,
        "concurrency": result.concurrency,
        "seconds": round(result.seconds, 2),
        "rps": round(result.rps, 1),
        "p50_ms": result.percentile_ms(50),
        "p95_ms": result.percentile_ms(95),
        "p99_ms": result.percentile_ms(99),
        "max_ms": result.percentile_ms(100),
        "failed_requests": len(result.failed()),
        "graphql_errors": len(errors),
        "first_error": first_error(errors),
        "cpu_ms_per_request": result.cpu_ms_per_request,
        "upstream_per_query": round(sum(calls.values()) / result.count, 2) if result.count else None,
        "upstream_by_system": per_query(by_system(calls), result.count),
        "upstream_by_path": per_query(calls, result.count),
        **notes,
    }


async def uncached_scenarios(
    gateway_url: str, sims: Mapping[str, str], args: argparse.Namespace, log: TextIO, cpu: CpuClock | None = None,
) -> dict[str, dict[str, Any]]:
    url = gateway_url + "/graphql"
    limits = httpx.Limits(max_connections=max(args.concurrency, 8), max_keepalive_connections=max(args.concurrency, 8))
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0), limits=limits) as client:
        counter = UpstreamCounter(client, sims)
        ids, complete, cursors = await customer_ids(client, url)
        log.write(f"   {len(ids):,} golden customers, {len(complete):,} linked in all three systems, "
                  f"{len(cursors)} pages of 100\n")
        # Customers in all three systems make every system answer: the whole view's worst case.
        pool = complete or ids
        if not pool:
            raise RuntimeError("the index holds no customers: did the match run?")
        results: dict[str, dict[str, Any]] = {}

        def one(offset: int) -> Any:
            return lambda i: {"query": ONE, "variables": {"id": pool[(offset + i) % len(pool)], "invoices": 20}}

        # Serial first: the latency of one query with nothing queued in front of it.
        serial_n = min(args.serial_requests, len(pool))
        res, calls = await measured(counter, client, url, one(0), concurrency=1, max_requests=serial_n,
                                    max_seconds=args.seconds, cpu=cpu)
        results["one_uncached_serial"] = summary("one customer, uncached, serial", res, calls,
                                                 {"distinct_customers": min(res.count, len(pool))})
        log.write("   (a) one uncached serial done\n")

        res, calls = await measured(counter, client, url, one(serial_n), concurrency=args.concurrency,
                                    max_requests=args.requests, max_seconds=args.seconds, cpu=cpu)
        results["one_uncached"] = summary("one customer, uncached, 16 concurrent clients", res, calls,
                                          {"distinct_customers": min(res.count, len(pool)),
                                           "customers_reused": res.count > len(pool)})
        log.write("   (a) one uncached done\n")

        # (c) a page of 100 with every field; invoices per customer kept under the cost limit.
        results["page100_uncached"] = await page_scenario(client, url, counter, ids, cursors, args, log, cpu)

        # (d) QuickBooks in outage.
        qbo = sims["quickbooks"]
        (await client.patch(f"{qbo}/_admin/faults", json={"outage": True})).raise_for_status()
        try:
            res, calls = await measured(counter, client, url, one(serial_n + args.requests),
                                        concurrency=args.concurrency, max_requests=args.outage_requests,
                                        max_seconds=args.seconds, cpu=cpu)
        finally:
            (await client.patch(f"{qbo}/_admin/faults", json={"outage": False})).raise_for_status()
        results["outage"] = {**summary("one customer, QuickBooks in outage", res, calls, {}),
                             **outage_check(res.replies)}
        log.write("   (d) outage done\n")
        return results


async def page_scenario(
    client: httpx.AsyncClient, url: str, counter: UpstreamCounter, ids: Sequence[str], cursors: Sequence[str | None],
    args: argparse.Namespace, log: TextIO, cpu: CpuClock | None,
) -> dict[str, Any]:
    """A page of 100 whole views, uncached, plus one probe query per relation (upstream calls by relation)."""
    page_vars = {"after": None, "invoices": args.page_invoices}
    cost = query_cost(PAGE, page_vars)
    # Only full pages, so "a page of 100" is 100 customers (the last page holds the remainder).
    pages = cursors[: len(ids) // 100] or cursors

    def page(i: int) -> Mapping[str, Any]:
        return {"query": PAGE, "variables": {"after": pages[i % len(pages)], "invoices": args.page_invoices}}

    res, calls = await measured(counter, client, url, page, concurrency=args.page_concurrency,
                                max_requests=args.page_requests, max_seconds=args.seconds, cpu=cpu)
    customers_per_page = _edges_per_reply(res.replies)
    figures = summary("page of 100, uncached", res, calls, {
        "invoices_per_customer": args.page_invoices, "query_cost": cost,
        "customers_per_page": customers_per_page,
        "upstream_by_relation_from_paths": per_query(by_relation(calls), res.count),
    })
    log.write("   (c) page100 done\n")

    # Per-relation probes on the first page: each selects one relation only.
    probe_counts: dict[str, float] = {}
    probe_errors: list[dict[str, Any]] = []
    for relation, selection in PROBES.items():
        system = relation.partition("/")[0]
        query = (f"query Probe($after: String) {{ customers(first: 100, after: $after) {{"
                 f" edges {{ node {{ id {selection} }} }} }} }}")
        res_p, calls_p = await measured(
            counter, client, url, lambda i: {"query": query, "variables": {"after": pages[i % len(pages)]}},
            concurrency=1, max_requests=args.probe_requests, max_seconds=args.seconds, cpu=cpu,
        )
        probe_errors += graphql_errors(res_p.replies)
        own = sum(n for label, n in calls_p.items()
                  if label.startswith(system + " ") and "token" not in label and "oauth" not in label)
        probe_counts[relation] = round(own / res_p.count, 2) if res_p.count else 0.0
    figures["upstream_by_relation"] = probe_counts
    figures["probe_errors"] = len(probe_errors)
    figures["probe_first_error"] = first_error(probe_errors)
    log.write("   (c) probes done\n")
    return figures


def _edges_per_reply(replies: Sequence[Reply]) -> float | None:
    sizes = [len(((r.body or {}).get("data") or {}).get("customers", {}).get("edges") or [])
             for r in replies if r.body and r.body.get("data")]
    return round(sum(sizes) / len(sizes), 1) if sizes else None


def outage_check(replies: Sequence[Reply]) -> dict[str, Any]:
    """Whether every reply kept the other systems' fields and carried QuickBooks errors on billing."""
    answered = [r for r in replies if r.body is not None and (r.body.get("data") or {}).get("customer")]
    billing_unavailable = 0
    billing_failed = 0
    other_errors: list[dict[str, Any]] = []
    codes: Counter[str] = Counter()
    for reply in answered:
        assert reply.body is not None
        customer = reply.body["data"]["customer"]
        errors = [e for e in reply.body.get("errors") or [] if isinstance(e, dict)]
        for error in errors:
            ext = error.get("extensions") or {}
            codes[f"{ext.get('system')}:{ext.get('code')}:{error_field(error)}"] += 1
            if ext.get("system") != "quickbooks":
                other_errors.append(error)
        on_billing = [(e.get("extensions") or {}) for e in errors if error_field(e) == "billing"]
        if customer.get("billing") is None and any(ext.get("system") == "quickbooks" for ext in on_billing):
            billing_failed += 1
            if any(ext.get("code") == "SOURCE_UNAVAILABLE" for ext in on_billing):
                billing_unavailable += 1
        missing = [f for f in ("crm", "projectManagement") if customer.get(f) is None]
        if missing:
            other_errors.append({"message": f"{', '.join(missing)} null without an error of their own",
                                 "customer": customer.get("id")})
    ok = bool(answered) and len(answered) == len(replies) and billing_failed == len(answered) and not other_errors
    return {
        "answered": len(answered),
        "billing_quickbooks_error": billing_failed,
        "billing_source_unavailable": billing_unavailable,
        "billing_all_source_unavailable": bool(answered) and billing_unavailable == len(answered),
        "unexpected_errors": len(other_errors),
        "first_unexpected_error": first_error(other_errors),
        "error_codes": dict(codes.most_common()),
        "outage_ok": ok,
    }


async def cached_scenario(gateway_url: str, sims: Mapping[str, str], args: argparse.Namespace,
                          customer: str | None, cpu: CpuClock | None = None,
                          title: str = "one customer, cached") -> dict[str, Any]:
    url = gateway_url + "/graphql"
    limits = httpx.Limits(max_connections=args.cached_concurrency, max_keepalive_connections=args.cached_concurrency)
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0), limits=limits) as client:
        counter = UpstreamCounter(client, sims)
        if customer is None:
            ids, complete, _ = await customer_ids(client, url)
            customer = (complete or ids)[0]
        body = {"query": ONE, "variables": {"id": customer, "invoices": 20}}
        await run_load(client, url, lambda i: body, concurrency=4, max_requests=args.warmup, max_seconds=args.seconds)
        res, calls = await measured(counter, client, url, lambda i: body, concurrency=args.cached_concurrency,
                                    max_requests=args.cached_requests, max_seconds=args.seconds, cpu=cpu)
        return summary(title, res, calls, {"customer": customer, "warmup_requests": args.warmup})


async def page_only(gateway_url: str, sims: Mapping[str, str], args: argparse.Namespace, log: TextIO,
                    cpu: CpuClock | None) -> dict[str, Any]:
    """The page-of-100 scenario alone, on a gateway configured some other way."""
    url = gateway_url + "/graphql"
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0)) as client:
        ids, _, cursors = await customer_ids(client, url)
        return await page_scenario(client, url, UpstreamCounter(client, sims), ids, cursors, args, log, cpu)


# --- output -------------------------------------------------------------------------------------


def scenario_table(figures: Mapping[str, Any]) -> Table:
    table = Table(title=figures["scenario"], title_justify="left", show_header=False, box=box.SIMPLE)
    table.add_column(style="bold")
    table.add_column(justify="right", overflow="fold")
    rows: list[tuple[str, Any]] = [
        ("requests", f"{figures['requests']:,} at concurrency {figures['concurrency']} in {figures['seconds']}s"),
        ("requests/s", f"{figures['rps']:,.1f}"),
        ("p50 / p95 / p99 ms", f"{figures['p50_ms']} / {figures['p95_ms']} / {figures['p99_ms']}"),
        ("failed requests", figures["failed_requests"]),
        ("GraphQL errors", figures["graphql_errors"]),
        ("upstream calls / query", figures["upstream_per_query"]),
    ]
    rows += [("CPU ms / request", " ".join(f"{k} {v}" for k, v in figures["cpu_ms_per_request"].items()))]
    rows += [(f"  {system}", n) for system, n in figures["upstream_by_system"].items()]
    rows += [(f"  {label}", n) for label, n in figures["upstream_by_path"].items()]
    if "upstream_by_relation" in figures:
        rows.append(("per relation (probe queries)", ""))
        rows += [(f"  {rel}", n) for rel, n in figures["upstream_by_relation"].items()]
    for key in ("distinct_customers", "customers_reused", "invoices_per_customer", "query_cost",
                "customers_per_page", "customer", "answered", "billing_quickbooks_error", "billing_source_unavailable", "unexpected_errors",
                "outage_ok"):
        if key in figures:
            rows.append((key.replace("_", " "), figures[key]))
    if figures.get("error_codes"):
        rows.append(("errors system:code:field", ""))
        rows += [(f"  {k}", n) for k, n in figures["error_codes"].items()]
    for label, value in rows:
        table.add_row(label, str(value))
    return table


def acceptance(figures: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}
    for name, op, target in TARGETS:
        value = figures.get(name)
        met = None if value is None else (value < target if op == "<" else value <= target if op == "<=" else
                                          value >= target)
        checks[name] = {"op": op, "target": target, "value": value, "met": met}
    checks["outage_ok"] = {"op": "==", "target": True, "value": figures.get("outage_ok"),
                           "met": figures.get("outage_ok")}
    checks["outage_billing_source_unavailable"] = {"op": "==", "target": True,
                                                   "value": figures.get("outage_billing_all_source_unavailable"),
                                                   "met": figures.get("outage_billing_all_source_unavailable")}
    checks["outage_within_deadline"] = {"op": "<", "target": figures.get("request_deadline_ms"),
                                        "value": figures.get("outage_max_ms"),
                                        "met": figures.get("outage_within_deadline")}
    return checks


# --- main -----------------------------------------------------------------------------------------


T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on uvloop when it is installed: its loop costs the load generator less CPU per request."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def measure(args: argparse.Namespace, data_dir: Path, log: TextIO) -> dict[str, Any]:
    """Set up, run every scenario, stop every child process; the figures."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log.write(f"== read path, {args.customers:,} customers (seed {args.seed}) in {data_dir}\n")
    generated, reused = prepare_data(data_dir, args.customers, args.seed)
    log.write("   reused generated data\n" if reused else f"   generated in {generated['seconds']:.1f}s\n")
    off_env, cache_note = uncached_env()
    deadline_s: float | None = Settings.model_fields["request_deadline_s"].default \
        if "request_deadline_s" in Settings.model_fields else None
    with LatencySandbox(data_dir, data_dir / "bench-read-sandbox.log", args.latency_ms) as sandbox:
        log.write(f"   simulators answering after {sandbox.start_seconds:.1f}s (pid {sandbox.pid}), "
                  f"{args.latency_ms:g} ms latency each\n")
        env = sandbox_env(data_dir, sandbox.ports)
        match_seconds = run_match(env, data_dir, log)
        page_cost = query_cost(PAGE, {"after": None, "invoices": args.page_invoices})
        max_cost = GraphQLLimits().max_cost
        extra: dict[str, str] = {}
        if page_cost > max_cost:
            extra["C360_GRAPHQL__MAX_COST"] = str(page_cost)
        with GatewayProcess({**env, **off_env, **extra}, data_dir / "bench-read-gateway-uncached.log") as gw:
            log.write(f"   gateway ({cache_note}) healthy after {gw.start_seconds:.1f}s (pid {gw.pid})\n")
            cpu = CpuClock({"gateway": gw.pid, "simulators": sandbox.pid})
            uncached = run_async(uncached_scenarios(gw.url, sandbox.urls, args, log, cpu))
        per_key_env = {"C360_SOURCES__SHAREPOINT__OR_FILTER_TERMS": "0"}
        with GatewayProcess({**env, **off_env, **extra, **per_key_env},
                            data_dir / "bench-read-gateway-per-key.log") as gw:
            log.write(f"   gateway (cache off, SharePoint one key per sub-request) healthy after "
                      f"{gw.start_seconds:.1f}s\n")
            cpu = CpuClock({"gateway": gw.pid, "simulators": sandbox.pid})
            per_key = run_async(page_only(gw.url, sandbox.urls, args, log, cpu))
            per_key["scenario"] = "page of 100, uncached, SharePoint one key per $batch sub-request"
        with GatewayProcess(env, data_dir / "bench-read-gateway-cached.log") as gw:
            log.write(f"   gateway (default cache) healthy after {gw.start_seconds:.1f}s (pid {gw.pid})\n")
            cpu = CpuClock({"gateway": gw.pid, "simulators": sandbox.pid})
            cached = run_async(cached_scenario(gw.url, sandbox.urls, args, None, cpu))
        records_only_env = {**env, "C360_RESPONSE_CACHE_TTL_S": "0"}
        with GatewayProcess(records_only_env, data_dir / "bench-read-gateway-records-only.log") as gw:
            log.write(f"   gateway (record cache only) healthy after {gw.start_seconds:.1f}s (pid {gw.pid})\n")
            cpu = CpuClock({"gateway": gw.pid, "simulators": sandbox.pid})
            records_only = run_async(cached_scenario(
                gw.url, sandbox.urls, args, None, cpu, title="one customer, cached, response cache off"))
    scenarios = {**uncached, "page100_uncached_per_key": per_key, "one_cached": cached,
                 "one_cached_records_only": records_only}
    outage = scenarios["outage"]
    outage_max = outage["max_ms"]
    page = scenarios["page100_uncached"]
    relation_counts = page["upstream_by_relation"]
    return {
        "scenarios": scenarios,
        "cache_off": cache_note,
        "match_seconds": match_seconds,
        "page_cost": page_cost,
        "max_cost_raised_to": int(extra["C360_GRAPHQL__MAX_COST"]) if extra else None,
        "request_deadline_ms": deadline_s * 1000 if deadline_s else None,
        "outage_max_ms": outage_max,
        "outage_within_deadline": (outage_max is not None and deadline_s is not None
                                   and outage_max < deadline_s * 1000 and outage["failed_requests"] == 0),
        "page100_max_requests_per_relation": max(relation_counts.values()) if relation_counts else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.read", description=(__doc__ or "").splitlines()[0])
    add_data_arguments(parser, latency_ms=LATENCY_MS)
    parser.add_argument("--concurrency", type=int, default=16, help="workers for the one-customer scenarios")
    parser.add_argument("--requests", type=int, default=300, help="budget of the uncached one-customer run")
    parser.add_argument("--serial-requests", type=int, default=50, help="budget of the serial uncached run")
    parser.add_argument("--cached-concurrency", type=int, default=64, help="workers for the cached run")
    parser.add_argument("--cached-requests", type=int, default=5000, help="budget of the cached run")
    parser.add_argument("--warmup", type=int, default=50, help="requests before the cached run")
    parser.add_argument("--page-concurrency", type=int, default=1, help="workers for the page-of-100 run")
    parser.add_argument("--page-requests", type=int, default=20, help="budget of the page-of-100 run")
    parser.add_argument("--page-invoices", type=int, default=20,
                        help="invoices(first:) per customer in a page (20, as in the one-customer view, fits the cost limit)")
    parser.add_argument("--probe-requests", type=int, default=2, help="requests per relation probe")
    parser.add_argument("--outage-requests", type=int, default=100, help="budget of the outage run")
    parser.add_argument("--seconds", type=float, default=30.0, help="time budget of each run")
    add_keep_argument(parser)
    args = parser.parse_args(argv)

    out = sys.stdout
    console = report_console(out)
    with ExitStack() as stack:
        data_dir = bench_data_dir(args, stack, "read")
        figures = measure(args, data_dir, sys.stderr)

    scenarios = figures["scenarios"]
    shown = ("one_uncached_serial", "one_uncached", "page100_uncached", "page100_uncached_per_key", "one_cached",
             "one_cached_records_only", "outage")
    for key in shown:
        console.print(scenario_table(scenarios[key]))
    unexpected = {key: scenarios[key]["first_error"]
                  for key in shown if key != "outage"}
    if scenarios["page100_uncached"]["probe_first_error"]:
        unexpected["page100_probes"] = scenarios["page100_uncached"]["probe_first_error"]
    flat = {
        # One view's latency (serial); the same under 16 concurrent clients is a throughput figure.
        "one_uncached_p50_ms": scenarios["one_uncached_serial"]["p50_ms"],
        "one_uncached_p99_ms": scenarios["one_uncached_serial"]["p99_ms"],
        "one_uncached_concurrent_p50_ms": scenarios["one_uncached"]["p50_ms"],
        "one_uncached_concurrent_p99_ms": scenarios["one_uncached"]["p99_ms"],
        "one_uncached_concurrent_rps": scenarios["one_uncached"]["rps"],
        "one_cached_rps": scenarios["one_cached"]["rps"],
        "one_cached_p99_ms": scenarios["one_cached"]["p99_ms"],
        "one_cached_records_only_rps": scenarios["one_cached_records_only"]["rps"],
        "one_cached_records_only_p99_ms": scenarios["one_cached_records_only"]["p99_ms"],
        "page100_uncached_p50_ms": scenarios["page100_uncached"]["p50_ms"],
        "page100_upstream_requests": scenarios["page100_uncached"]["upstream_by_relation"],
        "page100_per_key_p50_ms": scenarios["page100_uncached_per_key"]["p50_ms"],
        "page100_per_key_upstream_requests": scenarios["page100_uncached_per_key"]["upstream_by_relation"],
        "page100_max_requests_per_relation": figures["page100_max_requests_per_relation"],
        "outage_p50_ms": scenarios["outage"]["p50_ms"],
        "outage_ok": scenarios["outage"]["outage_ok"],
        "outage_billing_all_source_unavailable": scenarios["outage"]["billing_all_source_unavailable"],
    }
    checks = acceptance({**flat, **figures})
    console.print(acceptance_table(checks, issue=5))
    for key, error in unexpected.items():
        if error:
            console.print(f"[red]{key}: GraphQL errors; the first:[/red] {error}")
    if scenarios["outage"]["first_unexpected_error"]:
        console.print(f"[red]outage: unexpected error:[/red] {scenarios['outage']['first_unexpected_error']}")
    verdicts = [c["met"] for c in checks.values() if c["met"] is not None]
    result = {
        **flat,
        "customers": args.customers,
        "seed": args.seed,
        "latency_ms": args.latency_ms,
        "uncached_how": figures["cache_off"],
        "page100_query_cost": figures["page_cost"],
        "page100_invoices_per_customer": args.page_invoices,
        "max_cost_raised_to": figures["max_cost_raised_to"],
        "errors": {k: v for k, v in unexpected.items() if v},
        "scenarios": scenarios,
        "acceptance": checks,
        "acceptance_met": all(verdicts) if verdicts else None,
    }
    write_result_line(out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
