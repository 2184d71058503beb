"""A circuit breaker per system: stop calling a system that keeps failing, and probe it now and then.

Retries (in `SourceClient`) ride out a blip inside one call; the breaker is for the
outage that outlasts them. After `failure_threshold` consecutive transient failures the
breaker opens and calls fail at once with `CircuitOpen`, so a dead system costs a query
nothing and is not hammered while it tries to recover. After `reset_timeout_s` it lets
exactly one probe call through (half-open): success closes it, failure opens it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum

from connectors._errors import CircuitOpen, RateLimited, SourceUnavailable
from connectors._record import SystemName

log = logging.getLogger("c360.connectors")

Clock = Callable[[], float]


class BreakerState(StrEnum):
    CLOSED = "closed"  # calls go through; consecutive failures are counted
    OPEN = "open"  # calls fail fast until the reset timeout has passed
    HALF_OPEN = "half_open"  # one probe call is allowed through to test the system


class CircuitBreaker:
    """Closed → open → half-open state machine for one system.

    Not a context manager on purpose: the caller (`ResilientConnector`) decides what an
    outcome means. It calls `acquire()` before touching the system, then exactly one of
    `record_success()`, `record_failure(exc)` or `release()` (an outcome that says nothing
    about the system, such as a cancelled call). Single event loop, so no locking.
    """

    def __init__(
        self,
        system: SystemName | str,
        *,
        failure_threshold: int = 5,
        reset_timeout_s: float = 10.0,
        count_rate_limited: bool = False,
        clock: Clock = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.system = SystemName(system)
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self.count_rate_limited = count_rate_limited
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        #: Calls refused while open: benchmarks and tests read it.
        self.rejected = 0

    # --- inspection ------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose reset timeout has passed reads as half-open."""
        if self._state is BreakerState.OPEN and self._retry_in() <= 0:
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def counts_as_failure(self, exc: BaseException) -> bool:
        """Whether `exc` says the system is unhealthy (as opposed to "the system answered: no").

        Unavailable and timeouts count; throttling counts only when configured (a throttling
        system is alive, and the retry layer already waits as told); not-found, validation,
        conflicts and auth errors are answers from a working system and do not.
        """
        if isinstance(exc, CircuitOpen):
            return False
        if isinstance(exc, SourceUnavailable):
            return True
        if isinstance(exc, RateLimited):
            return self.count_rate_limited
        return False

    def _retry_in(self) -> float:
        return self._opened_at + self.reset_timeout_s - self._clock()

    # --- the protocol ----------------------------------------------------------------------

    def check(self) -> None:
        """Raise `CircuitOpen` if a call now would be refused; reserves nothing.

        Used before queueing for a concurrency slot, so a dead system's callers do not wait.
        """
        self._gate(reserve=False)

    def acquire(self) -> None:
        """Admit one call or raise `CircuitOpen`; in half-open this takes the single probe slot."""
        self._gate(reserve=True)

    def _gate(self, *, reserve: bool) -> None:
        if self._state is BreakerState.CLOSED:
            return
        if self._state is BreakerState.OPEN:
            retry_in = self._retry_in()
            if retry_in > 0:
                self._reject(f"circuit open after repeated failures; next probe in {retry_in:.1f}s", retry_in)
            if not reserve:
                return
            self._state = BreakerState.HALF_OPEN
            log.info("circuit half-open: probing", extra={"system": str(self.system)})
        # half-open: one probe at a time
        if self._probe_in_flight:
            self._reject("circuit half-open; a probe call is in flight", 0.0)
        if reserve:
            self._probe_in_flight = True

    def _reject(self, message: str, retry_in: float) -> None:
        self.rejected += 1
        raise CircuitOpen(self.system, message, retry_in=max(0.0, retry_in))

    def record_success(self) -> None:
        """The system answered: close the breaker (if it was probing) and forget past failures."""
        if self._state is not BreakerState.CLOSED:
            log.info("circuit closed: system answered the probe", extra={"system": str(self.system)})
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probe_in_flight = False

    def record_failure(self, exc: BaseException) -> None:
        """Count `exc` if it is a health failure; an answer from a working system counts as success."""
        if not self.counts_as_failure(exc):
            self.record_success()
            return
        self._probe_in_flight = False
        if self._state is BreakerState.HALF_OPEN:
            self._open("probe failed", exc)
            return
        self._failures += 1
        if self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold:
            self._open(f"{self._failures} consecutive failures", exc)

    def release(self) -> None:
        """The call ended without telling us anything (cancelled, or a bug): free the probe slot."""
        self._probe_in_flight = False

    def _open(self, why: str, exc: BaseException) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        log.warning(
            "circuit opened",
            extra={"system": str(self.system), "reason": why, "error": type(exc).__name__,
                   "reset_timeout_s": self.reset_timeout_s},
        )
