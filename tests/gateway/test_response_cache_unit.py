"""`ResponseCache` on its own: an injected clock and index generation, no GraphQL."""

from __future__ import annotations

import math
from typing import Any

import pytest

from gateway.response_cache import ResponseCache

JSON = "application/json; charset=utf-8"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Index:
    """Stands in for `XrefService.generation`."""

    def __init__(self) -> None:
        self.generation = 0


def make(ttl_s: float = 2.0, **kwargs: Any) -> tuple[ResponseCache, Clock, Index]:
    clock, index = Clock(), Index()
    cache = ResponseCache(ttl_s=ttl_s, clock=clock, generation=lambda: index.generation, **kwargs)
    return cache, clock, index


def key(n: int | str, media: str = "application/json") -> bytes:
    return ResponseCache.key(media, b'{"query": "{ customer(id: \\"%s\\") { name } }"}' % str(n).encode())


def store(cache: ResponseCache, k: bytes, body: bytes = b'{"data": {}}', *, fresh_for_s: float = math.inf,
          tags: tuple[str, ...] = (), ticket: Any = None) -> bool:
    return cache.put(k, body, status=200, content_type=JSON, fresh_for_s=fresh_for_s, tags=tags,
                     ticket=ticket if ticket is not None else cache.begin())


def test_a_stored_answer_is_served_as_stored_and_anything_else_misses() -> None:
    cache, _, _ = make()
    assert cache.get(key(1)) is None
    assert store(cache, key(1), b'{"data": {"customer": {"name": "Acme"}}}')

    hit = cache.get(key(1))
    assert hit is not None
    assert (hit.body, hit.status, hit.content_type) == (b'{"data": {"customer": {"name": "Acme"}}}', 200, JSON)
    assert cache.get(key(2)) is None
    assert cache.get(key(1, media="application/graphql-response+json")) is None
    assert (cache.stats.hits, cache.stats.misses, cache.stats.stored) == (1, 3, 1)


def test_the_key_is_the_media_type_and_the_exact_bytes() -> None:
    body = b'{"query": "{ ping }"}'
    assert ResponseCache.key("application/json", body) == ResponseCache.key("application/json", bytes(body))
    assert ResponseCache.key("application/json", body) != ResponseCache.key("application/graphql-response+json", body)
    assert ResponseCache.key("application/json", body) != ResponseCache.key("application/json", body + b" ")


@pytest.mark.parametrize(("ttl_s", "fresh_for_s", "lives"), [(2.0, math.inf, 2.0), (2.0, 0.5, 0.5), (0.3, 5.0, 0.3)])
def test_an_answer_lives_the_shorter_of_the_ttl_and_its_records_freshness(
    ttl_s: float, fresh_for_s: float, lives: float
) -> None:
    cache, clock, _ = make(ttl_s=ttl_s)
    start = clock.now
    assert store(cache, key(1), fresh_for_s=fresh_for_s)

    clock.now = start + lives - 0.01
    assert cache.get(key(1)) is not None
    clock.now = start + lives
    assert cache.get(key(1)) is None
    assert len(cache) == 0  # an expired entry is dropped, not kept around


@pytest.mark.parametrize("fresh_for_s", [0.0, -3.0])
def test_an_answer_built_from_records_no_longer_fresh_is_not_kept(fresh_for_s: float) -> None:
    cache, _, _ = make()
    assert not store(cache, key(1), fresh_for_s=fresh_for_s)
    assert cache.get(key(1)) is None and len(cache) == 0


def test_a_zero_ttl_keeps_nothing() -> None:
    cache, _, _ = make(ttl_s=0)
    assert not store(cache, key(1))
    assert len(cache) == 0


def test_invalidating_a_record_key_drops_only_the_answers_that_read_it() -> None:
    cache, _, _ = make()
    store(cache, key(1), tags=("quickbooks:58", "quickbooks:invoices:58"))
    store(cache, key(2), tags=("quickbooks:59",))
    store(cache, key(3), tags=("sharepoint:7", "quickbooks:invoices:58"))
    store(cache, key(4))

    cache.invalidate(["quickbooks:invoices:58"])

    assert cache.get(key(1)) is None and cache.get(key(3)) is None
    assert cache.get(key(2)) is not None and cache.get(key(4)) is not None
    assert cache.stats.invalidated == 2
    # Keys nothing read change nothing.
    cache.invalidate(["teamwork:1", "quickbooks:58"])
    assert len(cache) == 2


def test_an_answer_stored_again_carries_only_its_new_tags() -> None:
    cache, _, _ = make()
    store(cache, key(1), tags=("quickbooks:58",))
    store(cache, key(1), tags=("quickbooks:59",))

    cache.invalidate(["quickbooks:58"])
    assert cache.get(key(1)) is not None
    cache.invalidate(["quickbooks:59"])
    assert cache.get(key(1)) is None


def test_an_invalidation_while_an_answer_was_built_keeps_it_out() -> None:
    """It may hold the value from before the write, tagged or not (a record read before the write)."""
    cache, _, _ = make()
    ticket = cache.begin()
    cache.invalidate(["quickbooks:58"])
    assert not store(cache, key(1), tags=("sharepoint:1",), ticket=ticket)
    assert cache.get(key(1)) is None

    ticket = cache.begin()
    cache.clear()
    assert not store(cache, key(1), ticket=ticket)

    # A ticket taken after the invalidation is fine.
    assert store(cache, key(1), tags=("quickbooks:58",))
    assert cache.get(key(1)) is not None


def test_an_index_write_makes_stored_answers_unservable() -> None:
    cache, _, index = make()
    store(cache, key(1))
    index.generation += 1

    assert cache.get(key(1)) is None
    assert len(cache) == 0
    # Stored under the new generation, it is served again.
    assert store(cache, key(1))
    assert cache.get(key(1)) is not None


def test_an_index_write_while_an_answer_was_built_keeps_it_out() -> None:
    cache, _, index = make()
    ticket = cache.begin()
    index.generation += 1
    assert not store(cache, key(1), ticket=ticket)
    assert cache.get(key(1)) is None


def test_the_least_recently_used_answer_goes_first_when_full() -> None:
    cache, _, _ = make(max_entries=3)
    for n in (1, 2, 3):
        store(cache, key(n), tags=(f"quickbooks:{n}",))
    assert cache.get(key(1)) is not None  # 2 is now the least recently used

    store(cache, key(4), tags=("quickbooks:4",))

    assert len(cache) == 3
    assert cache.get(key(2)) is None
    assert all(cache.get(key(n)) is not None for n in (1, 3, 4))
    # The evicted entry left no tag behind to be found later.
    assert "quickbooks:2" not in cache._by_tag


def test_an_oversized_body_is_not_kept() -> None:
    cache, _, _ = make(max_body_bytes=10)
    assert store(cache, key(1), b"x" * 10)
    assert not store(cache, key(2), b"x" * 11)
    assert cache.get(key(1)) is not None and cache.get(key(2)) is None


def test_clear_drops_everything() -> None:
    cache, _, _ = make()
    for n in range(5):
        store(cache, key(n), tags=(f"quickbooks:{n}",))

    cache.clear()

    assert len(cache) == 0
    assert all(cache.get(key(n)) is None for n in range(5))
    assert cache._by_tag == {}
    assert cache.stats.invalidated == 5
