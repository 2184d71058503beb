"""Per-system protection around a connector: circuit breaker, concurrency cap, call and request deadlines.

`SourceClient` makes one HTTP request survive blips (retries honouring Retry-After).
`ResilientConnector` protects the *caller* from a system that is down, slow or hanging:

- a **circuit breaker** fails calls fast with `CircuitOpen` once a system keeps failing,
  and lets one probe through after `reset_timeout_s`;
- a **concurrency cap** (a semaphore per system) keeps us under the system's own limit
  (QuickBooks: 10 concurrent requests per company), so we throttle ourselves first;
- a **deadline**: each call gets min(`call_timeout_s`, time left of the GraphQL request),
  the latter set by the gateway in `request_deadline`, so a query answers in time even
  when a system hangs. Waiting for a concurrency slot counts against the deadline too.

Order per call: breaker check (fail fast, no queueing) → deadline starts → wait for a
slot → breaker admits (takes the probe slot when half-open) → the wrapped call.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

from connectors._breaker import CircuitBreaker, Clock
from connectors._errors import ConnectorError, SourceTimeout, SourceUnavailable, retried_failures
from connectors._protocol import Connector
from connectors._record import RecordChanges, SourceRecord, SystemName
from connectors._settings import ResilienceSettings

T = TypeVar("T")

#: Absolute `time.monotonic()` deadline of the GraphQL request being served, or None.
#: Set by the gateway per request; every connector call inside it ends by then.
request_deadline: ContextVar[float | None] = ContextVar("c360_request_deadline", default=None)

#: Methods passed straight through: no I/O worth guarding, or (aclose) must always run.
_UNGUARDED = frozenset({"aclose", "record_url"})


class ResilientConnector:
    """Wraps one `Connector` (and its relation method, e.g. `invoices_for`) with per-system guards.

    Implements the `Connector` protocol. Unknown public coroutine methods of the wrapped
    connector (`documents_for`, `projects_for`, `invoices_for`) are guarded the same way via
    `__getattr__`, so `hasattr(wrapper, "invoices_for")` stays true only where the wrapped
    connector has it. Other attributes pass through unchanged.
    """

    def __init__(
        self,
        inner: Connector,
        settings: ResilienceSettings | None = None,
        *,
        breaker: CircuitBreaker | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        """`clock` drives the breaker unless one is given; deadlines always use `time.monotonic`
        because `request_deadline` is a monotonic timestamp set by the gateway."""
        self.inner = inner
        self.system: SystemName = inner.system
        self.settings = settings or ResilienceSettings()
        self.breaker = breaker or CircuitBreaker(
            self.system,
            failure_threshold=self.settings.failure_threshold,
            reset_timeout_s=self.settings.reset_timeout_s,
            count_rate_limited=self.settings.count_rate_limited,
            clock=clock,
        )
        self.max_concurrent = self.settings.concurrency_for(self.system)
        self._slots = asyncio.Semaphore(self.max_concurrent)
        #: Calls currently inside the wrapped connector, and the most seen at once (tests, benchmarks).
        self.in_flight = 0
        self.max_in_flight = 0

    # --- the guard ---------------------------------------------------------------------------

    def _timeout(self) -> float | None:
        """Seconds this call may take: the tighter of the call timeout and the request deadline."""
        budget = self.settings.call_timeout_s
        deadline = request_deadline.get()
        if deadline is not None:
            left = deadline - time.monotonic()
            budget = left if budget is None else min(budget, left)
        return budget

    async def _guard(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call()` behind the breaker, a concurrency slot and the deadline."""
        self.breaker.check()
        budget = self._timeout()
        if budget is not None and budget <= 0:
            raise SourceTimeout(self.system, f"{what}: request deadline already passed")
        admitted = False
        retried: list[ConnectorError] = []
        retried_token = retried_failures.set(retried)
        try:
            async with asyncio.timeout(budget):
                async with self._slots:
                    self.breaker.acquire()
                    admitted = True
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                    try:
                        result = await call()
                    finally:
                        self.in_flight -= 1
        except TimeoutError as exc:
            # asyncio.timeout turns its own cancellation into TimeoutError; the call's own
            # TimeoutErrors (none expected: connectors translate theirs) are treated the same.
            within = f"within {budget:g}s" if budget is not None else "in time"
            failure: ConnectorError = SourceTimeout(
                self.system, f"{what}: no answer {within}" if admitted else f"{what}: no free slot {within}"
            )
            if retried and isinstance(retried[-1], SourceUnavailable) and not isinstance(retried[-1], SourceTimeout):
                # The system kept refusing until the deadline: that is an outage, not slowness.
                failure = SourceUnavailable(self.system, f"{what}: {retried[-1].message}; retried until the deadline")
            if admitted:
                self.breaker.record_failure(failure)
            raise failure from exc
        except BaseException as exc:
            if admitted:
                if isinstance(exc, Exception):
                    self.breaker.record_failure(exc)
                else:  # cancelled by the caller: says nothing about the system
                    self.breaker.release()
            raise
        finally:
            retried_failures.reset(retried_token)
        self.breaker.record_success()
        return result

    # --- Connector protocol ------------------------------------------------------------------

    async def fetch(self, record_id: str) -> SourceRecord:
        return await self._guard("fetch", lambda: self.inner.fetch(record_id))

    async def fetch_many(self, record_ids: Sequence[str]) -> list[SourceRecord | None]:
        return await self._guard("fetch_many", lambda: self.inner.fetch_many(record_ids))

    async def iterate(self) -> AsyncIterator[SourceRecord]:
        """Each step (which may fetch a page) is guarded on its own.

        Holding one slot or one timeout for a whole export would starve other callers and
        make the deadline meaningless, so the guard covers one `__anext__` at a time.
        """
        pages = self.inner.iterate()
        try:
            while True:
                try:
                    record = await self._guard("iterate", pages.__anext__)
                except StopAsyncIteration:
                    return
                yield record
        finally:
            aclose = getattr(pages, "aclose", None)
            if aclose is not None:
                await aclose()

    async def search(
        self, *, name: str | None = None, email: str | None = None, phone: str | None = None
    ) -> list[SourceRecord]:
        return await self._guard("search", lambda: self.inner.search(name=name, email=email, phone=phone))

    async def create(self, changes: RecordChanges) -> SourceRecord:
        """Guarded like reads; a write cut off by the deadline may still have happened upstream,
        exactly as with an HTTP timeout, which is why writes carry version tokens or request ids."""
        return await self._guard("create", lambda: self.inner.create(changes))

    async def update(self, record_id: str, version: str | None, changes: RecordChanges) -> SourceRecord:
        return await self._guard("update", lambda: self.inner.update(record_id, version, changes))

    def record_url(self, record_id: str) -> str:
        return self.inner.record_url(record_id)

    async def aclose(self) -> None:
        await self.inner.aclose()

    # --- relation methods and everything else --------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        """Pass through what the wrapper does not define; guard public coroutine methods."""
        if name.startswith("__") or name == "inner":  # no recursion while unpickling / half-built
            raise AttributeError(name)
        attr = getattr(self.inner, name)
        if name.startswith("_") or name in _UNGUARDED or not inspect.iscoroutinefunction(attr):
            return attr

        async def guarded(*args: Any, **kwargs: Any) -> Any:
            return await self._guard(name, lambda: attr(*args, **kwargs))

        guarded.__name__ = name
        guarded.__doc__ = attr.__doc__
        return guarded

    def __repr__(self) -> str:
        return f"ResilientConnector({self.inner!r}, breaker={self.breaker.state}, max_concurrent={self.max_concurrent})"


def resilient(inner: Connector, settings: ResilienceSettings | None = None, **kw: Any) -> ResilientConnector:
    """Wrap `inner` unless it is already wrapped (wrapping twice would halve the caps and double-count)."""
    if isinstance(inner, ResilientConnector):
        return inner
    return ResilientConnector(inner, settings, **kw)
