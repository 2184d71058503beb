"""Closed-loop load against the gateway, and the simulators' own count of the upstream calls it caused.

The load generator runs in the bench process: N workers, each with one keep-alive HTTP/1.1
connection of its own (`bench._rawhttp`, raw asyncio streams, a few tens of microseconds of CPU
per request, where httpx took milliseconds that the gateway under test then lacked). It stops
at whichever comes first, the request budget or the time budget, so a slow gateway cannot make
a scenario run forever. Bodies are kept as bytes during the run and parsed on first access.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from bench._rawhttp import Endpoint, KeepAliveConnection, PostEncoder, RawHTTPError

#: Builds the JSON body of request number i (so each request can ask for another customer).
Payload = Callable[[int], Mapping[str, Any]]

_UNPARSED = object()


class Reply:
    """One answered request: its latency, status and GraphQL body (None if it was not a JSON object).

    The load keeps the raw bytes (`raw=`) and `body` parses them on first access, so JSON parsing
    takes no CPU while the load runs. A parsed `body` can be given instead.
    """

    __slots__ = ("seconds", "status", "transport_error", "_raw", "_body")

    def __init__(self, seconds: float, status: int, body: dict[str, Any] | None = None,
                 transport_error: str | None = None, *, raw: bytes | None = None) -> None:
        self.seconds = seconds
        self.status = status
        self.transport_error = transport_error
        self._raw = raw
        self._body: Any = _UNPARSED if raw is not None else body

    @property
    def body(self) -> dict[str, Any] | None:
        if self._body is _UNPARSED:
            try:
                parsed = orjson.loads(self._raw or b"")
            except orjson.JSONDecodeError:
                parsed = None
            self._body = parsed if isinstance(parsed, dict) else None
            self._raw = None
        body: dict[str, Any] | None = self._body
        return body

    def __repr__(self) -> str:
        return (f"Reply(seconds={self.seconds!r}, status={self.status!r}, body={self.body!r}, "
                f"transport_error={self.transport_error!r})")


@dataclass
class LoadResult:
    concurrency: int
    seconds: float
    replies: list[Reply] = field(default_factory=list)
    #: Filled by the caller that can see the processes (bench.read): CPU ms per request by process.
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.replies)

    @property
    def rps(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, q: float) -> float | None:
        """Nearest-rank percentile of the latencies, in ms (None without replies)."""
        latencies = sorted(r.seconds for r in self.replies)
        if not latencies:
            return None
        rank = max(1, math.ceil(q / 100 * len(latencies)))
        return round(latencies[rank - 1] * 1000, 1)

    def failed(self) -> list[Reply]:
        """Requests that got no GraphQL answer at all (transport error, non-JSON, or no data)."""
        return [r for r in self.replies if r.transport_error is not None or r.body is None or r.body.get("data") is None]


async def run_load(
    client: httpx.AsyncClient | None,
    url: str,
    payload: Payload,
    *,
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    timeout: float | None = 60.0,
) -> LoadResult:
    """Send up to `max_requests` POSTs from `concurrency` workers, stopping after `max_seconds` too.

    Each worker has its own keep-alive connection (`bench._rawhttp`); `client` is not used for the
    load (callers keep one for their other calls) and may be None. `timeout` bounds each request.
    Latency is from sending to having the whole body; parsing JSON is not counted (nor done
    during the run: `Reply.body` parses on first access).
    """
    endpoint = Endpoint.from_url(url)
    encoder = PostEncoder(endpoint)
    next_index = 0
    started = time.perf_counter()
    deadline = started + max_seconds
    replies: list[Reply] = []

    async def worker() -> None:
        nonlocal next_index
        conn = KeepAliveConnection(endpoint, timeout=timeout)
        try:
            while next_index < max_requests and time.perf_counter() < deadline:
                index = next_index
                next_index += 1
                request = encoder.encode(payload(index))
                sent = time.perf_counter()
                try:
                    status, raw = await conn.request(request)
                except RawHTTPError as exc:
                    replies.append(Reply(time.perf_counter() - sent, 0, None, str(exc)))
                    continue
                replies.append(Reply(time.perf_counter() - sent, status, raw=raw))
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return LoadResult(concurrency=concurrency, seconds=time.perf_counter() - started, replies=replies)


# --- upstream calls, as the simulators count them ----------------------------------------------

_QBO_PREFIX = re.compile(r"^/v3/company/[^/]+/")
_SP_SITE = re.compile(r"^(/v1\.0)?/sites/[^/]+/")
_ID_SEGMENT = re.compile(r"/(\d+)(?=/|\.json$|$)")


def path_label(system: str, call: str) -> str:
    """`quickbooks POST /v3/company/{realm}/query` from the simulator's `POST /v3/company/9341.../query`."""
    method, _, path = call.partition(" ")
    path = _QBO_PREFIX.sub("/v3/company/{realm}/", path)
    path = _SP_SITE.sub(lambda m: f"{m.group(1) or ''}/sites/{{site}}/", path)
    path = _ID_SEGMENT.sub("/{id}", path)
    return f"{system} {method} {path}"


#: What each (system, normalized path) reads, for paths that serve one relation only. Paths that
#: serve several (QuickBooks `query`, Graph `$batch`) are attributed by the per-relation probes.
_RELATION_BY_PATH: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("teamwork", re.compile(r"/companies(/\{id\})?\.json$"), "records"),
    ("teamwork", re.compile(r"/projects\.json$"), "projects"),
    ("quickbooks", re.compile(r"/customer/\{id\}$"), "records"),
    ("quickbooks", re.compile(r"/query$"), "records+invoices"),
    ("quickbooks", re.compile(r"oauth|token", re.I), "auth"),
    ("sharepoint", re.compile(r"/\$batch$"), "records+documents"),
    ("sharepoint", re.compile(r"/lists/[^/]*[Dd]ocument[^/]*/items"), "documents"),
    ("sharepoint", re.compile(r"/items"), "records"),
    ("sharepoint", re.compile(r"oauth|token", re.I), "auth"),
)


def relation_label(label: str) -> str:
    """`system/relation` for a path label (`sharepoint/records+documents` when one path serves both)."""
    system, _, rest = label.partition(" ")
    path = rest.partition(" ")[2]
    for sys_name, pattern, relation in _RELATION_BY_PATH:
        if sys_name == system and pattern.search(path):
            return f"{system}/{relation}"
    return f"{system}/other"


class UpstreamCounter:
    """Resets and reads `/_admin/stats` of every simulator, around one scenario."""

    def __init__(self, client: httpx.AsyncClient, sim_urls: Mapping[str, str]) -> None:
        self.client = client
        self.sim_urls = dict(sim_urls)

    async def reset(self) -> None:
        for url in self.sim_urls.values():
            (await self.client.delete(f"{url}/_admin/stats")).raise_for_status()

    async def read(self) -> Counter[str]:
        """Calls since the last reset, by path label (`system METHOD /path`)."""
        calls: Counter[str] = Counter()
        for system, url in self.sim_urls.items():
            resp = await self.client.get(f"{url}/_admin/stats")
            resp.raise_for_status()
            for call, n in (resp.json().get("calls") or {}).items():
                calls[path_label(system, call)] += int(n)
        return calls


def per_query(calls: Mapping[str, int], queries: int) -> dict[str, float]:
    """Counts divided by the number of queries, largest first."""
    if queries <= 0:
        return {}
    return {k: round(v / queries, 2) for k, v in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0]))}


def by_relation(calls: Mapping[str, int]) -> Counter[str]:
    grouped: Counter[str] = Counter()
    for label, n in calls.items():
        grouped[relation_label(label)] += n
    return grouped


def by_system(calls: Mapping[str, int]) -> Counter[str]:
    grouped: Counter[str] = Counter()
    for label, n in calls.items():
        grouped[label.partition(" ")[0]] += n
    return grouped


# --- GraphQL errors -----------------------------------------------------------------------------


def graphql_errors(replies: Sequence[Reply]) -> list[dict[str, Any]]:
    """Every GraphQL error of the replies, plus a synthetic one per request that got no JSON at all."""
    errors: list[dict[str, Any]] = []
    for reply in replies:
        if reply.transport_error is not None:
            errors.append({"message": reply.transport_error, "extensions": {"code": "TRANSPORT"}})
        elif reply.body is None:
            errors.append({"message": f"HTTP {reply.status} without a JSON body", "extensions": {"code": "HTTP"}})
        else:
            errors.extend(e for e in reply.body.get("errors") or [] if isinstance(e, dict))
    return errors
