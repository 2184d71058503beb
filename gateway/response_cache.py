"""Whole GraphQL responses of read-only operations, kept for a moment and dropped when what they used changes.

Why: a front-end asks for the same customer view on every page view, and building
the view (hundreds of fields) costs far more CPU than fetching its cached records.
A response is stored only when nothing about it is doubtful: a query (never a
mutation), no errors, no stale value, nothing read around the record cache (live
search). It lives no longer than the freshest-ending record it used, nor longer than
the configured TTL, which is also how long the index lookups are cached (so a
response is never older than a lookup the gateway would have made anyway).

Invalidation: every entry is tagged with the record-cache keys it read
(`quickbooks:58`, `quickbooks:invoices:58`); when the record cache forgets a key (a
write, a webhook, an explicit invalidation) the responses tagged with it go too. A
mutation in this process, or any index write (`XrefService.generation`), empties it.
The store is per process: another gateway process's writes show after at most the TTL.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CachedResponse:
    body: bytes
    status: int
    content_type: str
    expires_at: float
    generation: int
    tags: frozenset[str]


@dataclass(frozen=True, slots=True)
class Ticket:
    """Taken when a request starts: what the cache looked like before the response was built."""

    generation: int
    epoch: int


@dataclass(slots=True)
class ResponseCacheStats:
    hits: int = 0
    misses: int = 0
    stored: int = 0
    invalidated: int = 0


class ResponseCache:
    """An LRU of response bodies keyed by (media type, request body), with tag invalidation.

    `generation` reads a counter that changes whenever the index changes (entries made
    under another generation are not served); `clock` is monotonic seconds.
    """

    def __init__(
        self,
        *,
        ttl_s: float,
        max_entries: int = 10_000,
        max_body_bytes: int = 4_000_000,
        generation: Callable[[], int] = lambda: 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.max_body_bytes = max_body_bytes
        self.stats = ResponseCacheStats()
        self._generation = generation
        self._clock = clock
        self._entries: OrderedDict[bytes, CachedResponse] = OrderedDict()
        self._by_tag: dict[str, set[bytes]] = {}
        #: Bumped by every invalidation: a response built while one happened may hold the old value.
        self._epoch = 0

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def key(media_type: str, request_body: bytes) -> bytes:
        """The same bytes asking for the same media type get the same answer."""
        return media_type.encode() + b"\n" + request_body

    def get(self, key: bytes) -> CachedResponse | None:
        entry = self._entries.get(key)
        if entry is None:
            self.stats.misses += 1
            return None
        if entry.expires_at <= self._clock() or entry.generation != self._generation():
            self._drop(key)
            self.stats.misses += 1
            return None
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return entry

    def begin(self) -> Ticket:
        """Call before building a response that may be stored."""
        return Ticket(generation=self._generation(), epoch=self._epoch)

    def put(
        self, key: bytes, body: bytes, *, status: int, content_type: str, fresh_for_s: float, tags: Iterable[str],
        ticket: Ticket,
    ) -> bool:
        """Stores the response for min(TTL, `fresh_for_s`); False when it is not kept.

        Not kept when anything was invalidated (or the index changed) while it was built:
        the response may hold a value from before that change.
        """
        lifetime = min(self.ttl_s, fresh_for_s)
        if lifetime <= 0 or len(body) > self.max_body_bytes:
            return False
        if ticket.epoch != self._epoch or ticket.generation != self._generation():
            return False
        if key in self._entries:
            self._drop(key)
        entry = CachedResponse(
            body=body, status=status, content_type=content_type, expires_at=self._clock() + lifetime,
            generation=ticket.generation, tags=frozenset(tags),
        )
        self._entries[key] = entry
        for tag in entry.tags:
            self._by_tag.setdefault(tag, set()).add(key)
        while len(self._entries) > self.max_entries:
            self._drop(next(iter(self._entries)))
        self.stats.stored += 1
        return True

    def invalidate(self, tags: Iterable[str]) -> None:
        """Drops every response that read one of these record-cache keys."""
        self._epoch += 1
        for tag in tags:
            for key in self._by_tag.pop(tag, ()):
                if key in self._entries:
                    self._drop(key)
                    self.stats.invalidated += 1

    def clear(self) -> None:
        self._epoch += 1
        self.stats.invalidated += len(self._entries)
        self._entries.clear()
        self._by_tag.clear()

    def _drop(self, key: bytes) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for tag in entry.tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]
