"""The response cache wired into the gateway app, in-process over fake connectors behind real record caches.

What needs control of timing or of the record cache itself: a write while an answer is
being built, a record or relation forgotten, a live search, a stale value.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from connectors import CachedConnector, CacheSettings, SourceUnavailable, SystemName, open_cache
from gateway.app import create_app
from gateway.config import Settings
from gateway.response_cache import ResponseCache
from resolvers import Services
from tests.gateway.test_lean_execution import services as fake_services

QB, SP, TW = SystemName.QUICKBOOKS, SystemName.SHAREPOINT, SystemName.TEAMWORK

VIEW = 'query V($id: ID!) { customer(id: $id) { id name billing { id name } invoices(first: 5) { totalCount } } }'


class Gateway:
    def __init__(self, client: httpx.AsyncClient, cache: ResponseCache, services: Services) -> None:
        self.client = client
        self.cache = cache
        self.services = services

    def connector(self, system: SystemName) -> CachedConnector:
        conn = self.services.connectors[system]
        assert isinstance(conn, CachedConnector)
        return conn

    def fake(self, system: SystemName) -> Any:
        return self.connector(system).inner

    async def post(self, query: str = VIEW, variables: dict[str, Any] | None = None) -> httpx.Response:
        response = await self.client.post("/graphql", json={"query": query, "variables": variables or {"id": "c1"}})
        assert response.status_code == 200, response.text
        return response


@contextlib.asynccontextmanager
async def gateway(
    clock: Callable[[], float] = time.time, cache_settings: CacheSettings | None = None, **fakes: Any
) -> AsyncIterator[Gateway]:
    """The app over `tests.gateway.test_lean_execution`'s fakes, each behind a CachedConnector (memory)."""
    settings = cache_settings or CacheSettings()
    store = open_cache(settings)
    plain = fake_services(**fakes)
    services = replace(
        plain,
        connectors={s: CachedConnector(c, store, settings, clock=clock) for s, c in plain.connectors.items()},
    )
    app = create_app(Settings(), services=services)
    async with app.router.lifespan_context(app) as state:
        cache = (state or {})["response_cache"]
        assert isinstance(cache, ResponseCache)

        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            await app({**scope, "state": dict(state or {})}, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://c360") as client:
            yield Gateway(client, cache, services)
    await store.close()


async def test_a_stored_answer_is_served_without_running_the_query() -> None:
    async with gateway() as gw:
        first = await gw.post()
        fetches, reads = list(gw.fake(QB).fetch_many_calls), gw.connector(QB).stats.hits + gw.connector(QB).stats.misses

        again = await gw.post()

        assert again.content == first.content
        assert gw.fake(QB).fetch_many_calls == fetches
        assert gw.connector(QB).stats.hits + gw.connector(QB).stats.misses == reads
        assert (gw.cache.stats.stored, gw.cache.stats.hits) == (1, 1)


async def test_forgetting_a_record_drops_the_answers_that_read_it_and_only_those() -> None:
    async with gateway() as gw:
        before = (await gw.post()).json()["data"]["customer"]
        await gw.post(variables={"id": "c3"})  # reads no QuickBooks record
        assert len(gw.cache) == 2
        billing = gw.fake(QB)
        billing.records["100"] = replace(billing.records["100"], name="Renamed Inc")

        await gw.connector(QB).invalidate("101")  # another customer's record
        assert len(gw.cache) == 2
        await gw.connector(QB).invalidate("100")

        assert len(gw.cache) == 1
        after = (await gw.post()).json()["data"]["customer"]
        assert before["billing"] == [{"id": "100", "name": "Acme Incorporated"}]
        assert after["billing"] == [{"id": "100", "name": "Renamed Inc"}] and after["name"] == "Renamed Inc"


async def test_an_answer_built_from_records_already_cached_is_tagged_with_them_too() -> None:
    async with gateway() as gw:
        await gw.post()  # loads QuickBooks record 100 into the record cache
        name_only = 'query N($id: ID!) { customer(id: $id) { name } }'
        reads = gw.connector(QB).stats.hits
        assert (await gw.post(name_only)).json()["data"]["customer"]["name"] == "Acme Incorporated"
        assert gw.connector(QB).stats.hits > reads  # built from the cached record
        billing = gw.fake(QB)
        billing.records["100"] = replace(billing.records["100"], name="Renamed Inc")

        await gw.connector(QB).invalidate("100")

        assert len(gw.cache) == 0
        assert (await gw.post(name_only)).json()["data"]["customer"]["name"] == "Renamed Inc"


async def test_forgetting_a_relation_drops_the_answers_that_read_it() -> None:
    async with gateway() as gw:
        assert (await gw.post()).json()["data"]["customer"]["invoices"]["totalCount"] == 3
        gw.fake(QB).related["100"] = gw.fake(QB).related["100"][:1]

        await gw.connector(QB).invalidate_relation("invoices", "100")

        assert len(gw.cache) == 0
        assert (await gw.post()).json()["data"]["customer"]["invoices"]["totalCount"] == 1


async def test_an_answer_built_while_its_record_was_written_is_not_kept() -> None:
    """The upstream read began before the write, so the answer holds the old value: serve it once, keep it never."""
    async with gateway() as gw:
        billing = gw.fake(QB)
        entered, release = asyncio.Event(), asyncio.Event()
        fetch = billing.fetch_many

        async def slow_fetch(ids: Any) -> Any:
            found = await fetch(ids)  # read now...
            entered.set()
            await release.wait()  # ...answered later
            return found

        billing.fetch_many = slow_fetch
        building = asyncio.create_task(gw.post())
        await asyncio.wait_for(entered.wait(), 5)
        billing.records["100"] = replace(billing.records["100"], name="Written Meanwhile")
        await gw.connector(QB).invalidate("100")
        release.set()

        old = (await building).json()["data"]["customer"]["billing"][0]["name"]
        billing.fetch_many = fetch

        assert old == "Acme Incorporated"
        assert len(gw.cache) == 0 and gw.cache.stats.stored == 0
        assert (await gw.post()).json()["data"]["customer"]["billing"][0]["name"] == "Written Meanwhile"


async def test_an_answer_read_around_the_record_cache_is_not_kept() -> None:
    search = 'query S($q: String) { customers(first: 5, search: $q) { edges { node { id name } } } }'
    async with gateway() as gw:
        for _ in range(2):
            found = (await gw.post(search, {"q": "Acme"})).json()["data"]["customers"]["edges"]
            assert "c1" in [e["node"]["id"] for e in found]

        assert gw.cache.stats.stored == 0
        assert len(gw.fake(SP).search_calls) == 2  # searched live both times


async def test_an_answer_with_a_stale_value_is_not_kept() -> None:
    offset = [0.0]
    settings = CacheSettings(ttl_s=1.0, stale_ttl_s=3600)
    async with gateway(clock=lambda: time.time() + offset[0], cache_settings=settings) as gw:
        query = 'query V($id: ID!) { customer(id: $id) { billing { name } } }'
        assert "extensions" not in (await gw.post(query)).json()
        gw.cache.clear()
        gw.fake(QB).fetch_fails = SourceUnavailable(QB, "down")
        offset[0] = 10.0  # the cached QuickBooks record is past fresh, still within stale

        body = (await gw.post(query)).json()

        assert body["data"]["customer"]["billing"] == [{"name": "Acme Incorporated"}]
        assert [s["system"] for s in body["extensions"]["stale"]] == ["quickbooks"]
        assert len(gw.cache) == 0 and gw.cache.stats.stored == 1  # only the first, fresh, answer


async def test_an_answer_with_errors_is_not_kept() -> None:
    async with gateway(qb_relation_fails=SourceUnavailable(QB, "down")) as gw:
        body = (await gw.post()).json()
        assert body["data"]["customer"]["invoices"] is None and body["errors"]
        assert gw.cache.stats.stored == 0


async def test_a_stored_answer_does_not_skip_the_checks_on_the_request() -> None:
    body = b'{"query": "{ ping }"}'
    async with gateway() as gw:
        stored = await gw.client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
        assert stored.status_code == 200 and gw.cache.stats.stored == 1

        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            refused = await gw.client.post("/graphql", content=body, headers={"Content-Type": content_type})
            assert refused.status_code == 415, refused.text
        assert gw.cache.stats.hits == 0
        # The same bytes as JSON (any charset parameter) are the stored answer.
        served = await gw.client.post("/graphql", content=body, headers={"Content-Type": "application/json; charset=utf-8"})
        assert served.content == stored.content and gw.cache.stats.hits == 1
