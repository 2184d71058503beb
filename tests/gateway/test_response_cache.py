"""The whole-response cache over real HTTP: a gateway and three simulators on 127.0.0.1.

The simulators count the calls they answer; the gateway's own counters (the response
cache and the record cache of each connector) are read from its lifespan state, so a
test can tell "answered from the response cache" from "rebuilt from cached records".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from connectors import CachedConnector, CacheSettings, SourcesSettings, SystemName
from gateway.app import open_response_cache
from gateway.config import Settings
from gateway.response_cache import ResponseCache
from sandbox._server import ThreadedServer
from tests.gateway.conftest import Stack, start_stack
from tests.gateway.test_end_to_end import WHOLE_VIEW

GQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"

LINKS = "query L($id: ID!) { customer(id: $id) { id sourceRecords { system id } } }"

UNLINK = """
mutation Unlink($r: RecordKeyInput!) {
  unlinkRecord(record: $r, decidedBy: "response-cache-test") {
    __typename ... on StewardError { code message }
  }
}
"""


@dataclass
class Gateway:
    """A stack plus a read-only window on its gateway process's state."""

    stack: Stack
    server: ThreadedServer

    @property
    def state(self) -> dict[str, Any]:
        # uvicorn keeps the lifespan's state here; every request gets a copy of it.
        return self.server._server.lifespan.state  # type: ignore[attr-defined, no-any-return]

    @property
    def cache(self) -> ResponseCache | None:
        return self.state["response_cache"]  # type: ignore[no-any-return]

    def connector(self, system: SystemName) -> CachedConnector:
        conn = self.state["services"].connectors[system]
        assert isinstance(conn, CachedConnector)
        return conn

    def on_gateway_loop(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Runs `coro` on the gateway's event loop (where its connectors live), as a webhook handler would."""
        loop = self.server._server.servers[0].get_loop()  # type: ignore[attr-defined]
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=10)

    def post(self, query: str, variables: dict[str, Any] | None = None, accept: str | None = None) -> httpx.Response:
        headers = {"Accept": accept} if accept else {}
        return httpx.post(self.stack.graphql_url, json={"query": query, "variables": variables or {}},
                          headers=headers, timeout=30)

    def reset_stats(self) -> None:
        for url in self.stack.simulator_urls.values():
            httpx.delete(f"{url}/_admin/stats").raise_for_status()

    def upstream_calls(self) -> dict[str, Any]:
        return {name: httpx.get(f"{url}/_admin/stats").json()["calls"] for name, url in self.stack.simulator_urls.items()}

    def record_cache_reads(self) -> int:
        return sum(c.stats.hits + c.stats.misses + c.stats.shared for c in map(self.connector, SystemName))

    def customers_in_every_system(self) -> list[str]:
        query = "{ customers(first: 100) { edges { node { id sourceRecords { system } } } } }"
        edges = self.post(query).json()["data"]["customers"]["edges"]
        return [e["node"]["id"] for e in edges if len({r["system"] for r in e["node"]["sourceRecords"]}) == 3]


def _gateway(tmp_path_factory: pytest.TempPathFactory, name: str, **overrides: Any) -> Iterator[Gateway]:
    stack, servers = start_stack(tmp_path_factory.mktemp(name), **overrides)
    try:
        yield Gateway(stack, servers[0])
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    # A short request deadline keeps the outage test quick (retries stop at the deadline).
    yield from _gateway(tmp_path_factory, "c360-response-cache", customers=30, request_deadline_s=2.0)


@pytest.fixture(scope="module")
def ids(gateway: Gateway) -> Iterator[str]:
    """Customers in every system, one per test that wants a customer of its own (the tests change them)."""
    found = gateway.customers_in_every_system()
    assert len(found) >= 6
    return iter(found)


def test_the_same_query_twice_is_answered_from_the_cache_without_any_upstream_call(
    gateway: Gateway, ids: Iterator[str]
) -> None:
    cache = gateway.cache
    assert cache is not None
    first_id, other_id = next(ids), next(ids)
    gateway.reset_stats()
    first = gateway.post(WHOLE_VIEW, {"id": first_id})
    assert first.status_code == 200 and "errors" not in first.json()
    calls, reads, hits = gateway.upstream_calls(), gateway.record_cache_reads(), cache.stats.hits

    again = gateway.post(WHOLE_VIEW, {"id": first_id})

    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["x-request-id"]  # a stored answer still goes out through the request middleware
    assert gateway.upstream_calls() == calls
    assert gateway.record_cache_reads() == reads  # not even rebuilt from cached records
    assert cache.stats.hits == hits + 1

    # Other variables, another entry: built (upstream this time), not served from the first one.
    other = gateway.post(WHOLE_VIEW, {"id": other_id})
    assert other.json()["data"]["customer"]["id"] == other_id
    assert gateway.upstream_calls() != calls
    assert cache.stats.hits == hits + 1


def test_a_change_behind_the_gateways_back_shows_once_the_record_cache_forgets_it(
    gateway: Gateway, ids: Iterator[str]
) -> None:
    customer_id = next(ids)
    before = gateway.post(WHOLE_VIEW, {"id": customer_id})
    [billing] = before.json()["data"]["customer"]["billing"]
    qb = gateway.stack.simulator_urls["quickbooks"]
    httpx.patch(f"{qb}/_admin/customers/{billing['id']}", json={"CompanyName": "Renamed Behind Your Back"}).raise_for_status()

    # Still the stored answer: nothing told this gateway.
    assert gateway.post(WHOLE_VIEW, {"id": customer_id}).content == before.content

    # A webhook for that record makes the record cache forget it; the answers that read it go too.
    gateway.on_gateway_loop(gateway.connector(SystemName.QUICKBOOKS).invalidate(billing["id"]))
    after = gateway.post(WHOLE_VIEW, {"id": customer_id}).json()

    assert "errors" not in after
    assert after["data"]["customer"]["billing"][0]["name"] == "Renamed Behind Your Back"


def test_a_steward_mutation_empties_the_cache_and_the_next_answer_shows_the_new_links(
    gateway: Gateway, ids: Iterator[str]
) -> None:
    cache = gateway.cache
    assert cache is not None
    customer_id = next(ids)
    before = gateway.post(LINKS, {"id": customer_id})
    assert gateway.post(LINKS, {"id": customer_id}).content == before.content
    assert len(cache) > 0
    teamwork = next(r for r in before.json()["data"]["customer"]["sourceRecords"] if r["system"] == "TEAMWORK")

    done = gateway.post(UNLINK, {"r": {"system": "TEAMWORK", "id": teamwork["id"]}}).json()

    assert done["data"]["unlinkRecord"]["__typename"] == "StewardSuccess", done
    assert len(cache) == 0
    after = gateway.post(LINKS, {"id": customer_id}).json()["data"]["customer"]["sourceRecords"]
    assert teamwork not in after and {r["system"] for r in after} == {"SHAREPOINT", "QUICKBOOKS"}


def test_a_mutation_that_changes_nothing_still_empties_the_cache(gateway: Gateway, ids: Iterator[str]) -> None:
    cache = gateway.cache
    assert cache is not None
    gateway.post(LINKS, {"id": next(ids)})
    assert len(cache) > 0

    refused = gateway.post(UNLINK, {"r": {"system": "TEAMWORK", "id": "no-such-record"}}).json()

    assert refused["data"]["unlinkRecord"]["__typename"] == "StewardError"
    assert len(cache) == 0


def test_an_answer_with_errors_is_not_kept(gateway: Gateway, ids: Iterator[str]) -> None:
    cache = gateway.cache
    assert cache is not None
    customer_id = next(ids)  # nobody read it: its records are not in the record cache either
    admin = f"{gateway.stack.simulator_urls['quickbooks']}/_admin/faults"
    stored = cache.stats.stored
    httpx.patch(admin, json={"outage": True}).raise_for_status()
    try:
        broken = gateway.post(WHOLE_VIEW, {"id": customer_id}).json()
    finally:
        httpx.patch(admin, json={"outage": False}).raise_for_status()
    assert broken["data"]["customer"]["billing"] is None and broken["errors"]
    assert cache.stats.stored == stored

    healed = gateway.post(WHOLE_VIEW, {"id": customer_id}).json()

    assert "errors" not in healed, healed.get("errors")
    assert healed["data"]["customer"]["billing"]
    assert cache.stats.stored == stored + 1


def test_each_media_type_has_its_own_entry_with_its_own_content_type(gateway: Gateway, ids: Iterator[str]) -> None:
    cache = gateway.cache
    assert cache is not None
    variables = {"id": next(ids)}
    stored, hits = cache.stats.stored, cache.stats.hits

    answers = {accept: [gateway.post(LINKS, variables, accept=accept) for _ in range(2)] for accept in (GQL_RESPONSE, JSON)}

    for accept, (built, served) in answers.items():
        assert built.status_code == served.status_code == 200
        assert built.headers["content-type"] == served.headers["content-type"] == f"{accept}; charset=utf-8"
        assert served.content == built.content
    assert cache.stats.stored == stored + 2
    assert cache.stats.hits == hits + 2


def test_a_get_query_is_not_cached(gateway: Gateway) -> None:
    cache = gateway.cache
    assert cache is not None
    stored = cache.stats.stored
    for _ in range(2):
        response = httpx.get(gateway.stack.graphql_url, params={"query": "{ ping }"}, headers={"Accept": JSON})
        assert response.json() == {"data": {"ping": "pong"}}
    assert cache.stats.stored == stored


# --- turned off -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uncached(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    yield from _gateway(tmp_path_factory, "c360-no-response-cache", customers=10, response_cache_ttl_s=0)


def test_with_a_zero_ttl_every_query_is_answered_by_executing_it(uncached: Gateway) -> None:
    assert uncached.cache is None
    customer_id = uncached.customers_in_every_system()[0]
    first = uncached.post(WHOLE_VIEW, {"id": customer_id})
    reads = uncached.record_cache_reads()

    for _ in range(2):
        again = uncached.post(WHOLE_VIEW, {"id": customer_id})
        assert again.content == first.content
        # Each one ran its resolvers, reading its records again (here from the record cache).
        assert uncached.record_cache_reads() > reads
        reads = uncached.record_cache_reads()


def test_the_environment_variable_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    class Index:
        generation = 0

    class Conn(CachedConnector):
        def __init__(self) -> None:
            self.forget_listeners = []

    monkeypatch.setenv("C360_RESPONSE_CACHE_TTL_S", "0")
    assert open_response_cache(Settings(), Index(), {SystemName.QUICKBOOKS: Conn()}) is None  # type: ignore[arg-type]
    monkeypatch.setenv("C360_RESPONSE_CACHE_TTL_S", "5")
    monkeypatch.setenv("C360_XREF_CACHE_TTL_S", "1.5")
    cache = open_response_cache(Settings(), Index(), {SystemName.QUICKBOOKS: Conn()})  # type: ignore[arg-type]
    assert cache is not None and cache.ttl_s == 1.5  # never longer than the index look-ups are kept
    # Without the record cache (a connector not wrapped) it is off too: nothing would say what an answer read.
    assert open_response_cache(Settings(), Index(), {SystemName.QUICKBOOKS: object()}) is None  # type: ignore[arg-type]


# --- lifetime bounded by the records' freshness ----------------------------------------------------


@pytest.fixture(scope="module")
def short_records(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    sources = SourcesSettings(cache=CacheSettings(ttl_s=60, system_ttl_s={"quickbooks": 2.0}))
    yield from _gateway(tmp_path_factory, "c360-short-records", customers=10, sources=sources,
                        response_cache_ttl_s=30, xref_cache_ttl_s=30)


def test_an_answer_lives_no_longer_than_the_records_it_read(short_records: Gateway) -> None:
    gateway = short_records
    cache = gateway.cache
    assert cache is not None and cache.ttl_s == 30
    customer_id = gateway.customers_in_every_system()[0]
    before = gateway.post(WHOLE_VIEW, {"id": customer_id})
    [billing] = before.json()["data"]["customer"]["billing"]
    qb = gateway.stack.simulator_urls["quickbooks"]
    httpx.patch(f"{qb}/_admin/customers/{billing['id']}", json={"CompanyName": "Renamed Later"}).raise_for_status()
    changed_at = time.monotonic()

    # Served as stored while the QuickBooks record is fresh (2 s), shown changed soon after, not after 30 s.
    for _ in range(100):
        now = gateway.post(WHOLE_VIEW, {"id": customer_id}).json()
        if now["data"]["customer"]["billing"][0]["name"] == "Renamed Later":
            break
        time.sleep(0.1)
    else:
        pytest.fail("the stored answer outlived the record it was built from")
    assert time.monotonic() - changed_at < 8
    assert cache.stats.hits >= 1
