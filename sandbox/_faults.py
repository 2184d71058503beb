"""Fault injection and throttling for the simulators, settable by config and at runtime.

Every simulator wraps its app in `FaultInjector`; the system supplies how its own
error bodies look (`ErrorRenderer`), so a throttled Graph call gets a Graph error
envelope and a throttled QuickBooks call a QuickBooks Fault.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ADMIN_PREFIX = "/_admin"


class FaultKind(StrEnum):
    ERROR = "error"  # a random server error
    THROTTLE = "throttle"  # over the rate or concurrency limit
    OUTAGE = "outage"  # the whole system is down
    TIMEOUT = "timeout"  # the request hangs past any sane client timeout


class FaultSettings(BaseModel):
    """Knobs of one simulator (source-apis.md section 4)."""

    latency_ms: float = Field(0.0, ge=0, description="Added latency of every API call.")
    latency_jitter_ms: float = Field(0.0, ge=0, description="Extra latency drawn per call from the distribution.")
    latency_distribution: str = Field("uniform", pattern="^(uniform|exponential)$")
    error_rate: float = Field(0.0, ge=0, le=1, description="Share of calls answered with a server error.")
    error_status: int = Field(503, ge=500, le=599)
    timeout_rate: float = Field(0.0, ge=0, le=1, description="Share of calls that hang for hang_s.")
    hang_s: float = Field(30.0, ge=0)
    outage: bool = Field(False, description="Answer every call with 503 until turned off (or outage_for_s ends).")
    outage_for_s: float | None = Field(None, gt=0, description="With outage: end it by itself after this long.")
    rate_limit_per_minute: int | None = Field(None, ge=1, description="Calls allowed per rate window; then 429.")
    rate_window_s: float = Field(60.0, gt=0)
    max_concurrent: int | None = Field(None, ge=1, description="Calls in flight at once; more get 429.")
    send_retry_after: bool = Field(True, description="Whether 429s carry Retry-After.")
    seed: int | None = None


ErrorRenderer = Callable[[FaultKind, int, float | None], Response]
HeaderHook = Callable[[int | None, int | None, float | None], Mapping[str, str]]


class SlidingWindowLimiter:
    """At most `limit` calls per `window` seconds; `retry_after` says when one frees up."""

    def __init__(self, limit: int | None, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._calls: deque[float] = deque()

    def _trim(self, now: float) -> None:
        while self._calls and self._calls[0] <= now - self.window:
            self._calls.popleft()

    def take(self, units: int = 1) -> float | None:
        """Record `units` calls; None if allowed, else the seconds until a call is allowed again."""
        if self.limit is None:
            return None
        now = self._clock()
        self._trim(now)
        if len(self._calls) + units > self.limit:
            return max(0.0, self._calls[0] + self.window - now) if self._calls else self.window
        self._calls.extend([now] * units)
        return None

    def remaining(self) -> int | None:
        if self.limit is None:
            return None
        self._trim(self._clock())
        return max(0, self.limit - len(self._calls))

    def reset_in(self) -> float | None:
        if self.limit is None:
            return None
        now = self._clock()
        self._trim(now)
        return (self._calls[0] + self.window - now) if self._calls else 0.0


@dataclass
class FaultState:
    settings: FaultSettings
    limiter: SlidingWindowLimiter
    rng: random.Random
    outage_until: float | None = None
    in_flight: int = 0


class FaultInjector:
    """ASGI middleware: counts calls, then applies outage, throttling, latency, errors and hangs."""

    def __init__(
        self,
        app: ASGIApp,
        settings: FaultSettings,
        render_error: ErrorRenderer,
        *,
        rate_headers: HeaderHook | None = None,
        exempt_prefixes: tuple[str, ...] = (ADMIN_PREFIX,),
    ) -> None:
        self.app = app
        self.render_error = render_error
        self.rate_headers = rate_headers
        self.exempt_prefixes = exempt_prefixes
        self.calls: Counter[str] = Counter()
        self.state = self._new_state(settings)

    @staticmethod
    def _new_state(settings: FaultSettings) -> FaultState:
        state = FaultState(
            settings=settings,
            limiter=SlidingWindowLimiter(settings.rate_limit_per_minute, settings.rate_window_s),
            rng=random.Random(settings.seed),
        )
        if settings.outage and settings.outage_for_s:
            state.outage_until = time.monotonic() + settings.outage_for_s
        return state

    @property
    def settings(self) -> FaultSettings:
        return self.state.settings

    def configure(self, settings: FaultSettings) -> None:
        self.state = self._new_state(settings)

    def take_units(self, units: int) -> float | None:
        """For calls that cost more than one unit (a Graph $batch of 20 counts 20)."""
        return self.state.limiter.take(units)

    def in_outage(self) -> bool:
        state = self.state
        if not state.settings.outage:
            return False
        if state.outage_until is not None and time.monotonic() >= state.outage_until:
            self.configure(state.settings.model_copy(update={"outage": False, "outage_for_s": None}))
            return False
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        self.calls[f"{scope['method']} {scope['path']}"] += 1
        state = self.state
        s = state.settings
        if self.in_outage():
            await self.render_error(FaultKind.OUTAGE, 503, None)(scope, receive, send)
            return
        wait = state.limiter.take()
        if wait is None and s.max_concurrent is not None and state.in_flight >= s.max_concurrent:
            wait = 1.0
        if wait is not None:
            retry_after = float(max(1, math.ceil(wait))) if s.send_retry_after else None
            response = self.render_error(FaultKind.THROTTLE, 429, retry_after)
            if retry_after is not None:
                response.headers["Retry-After"] = str(int(retry_after))
            self._add_rate_headers(response.headers)
            await response(scope, receive, send)
            return
        state.in_flight += 1
        try:
            await self._delay(state)
            if s.timeout_rate and state.rng.random() < s.timeout_rate:
                await asyncio.sleep(s.hang_s)
                await self.render_error(FaultKind.TIMEOUT, 504, None)(scope, receive, send)
                return
            if s.error_rate and state.rng.random() < s.error_rate:
                await self.render_error(FaultKind.ERROR, s.error_status, None)(scope, receive, send)
                return
            await self.app(scope, receive, self._with_rate_headers(send))
        finally:
            state.in_flight -= 1

    async def _delay(self, state: FaultState) -> None:
        s = state.settings
        delay = s.latency_ms
        if s.latency_jitter_ms:
            if s.latency_distribution == "exponential":
                delay += state.rng.expovariate(1 / s.latency_jitter_ms)
            else:
                delay += state.rng.uniform(0, s.latency_jitter_ms)
        if delay > 0:
            await asyncio.sleep(delay / 1000)

    def _add_rate_headers(self, headers: Any) -> None:
        if self.rate_headers is None:
            return
        limiter = self.state.limiter
        for key, value in self.rate_headers(limiter.limit, limiter.remaining(), limiter.reset_in()).items():
            headers[key] = value

    def _with_rate_headers(self, send: Send) -> Send:
        if self.rate_headers is None:
            return send

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                limiter = self.state.limiter
                extra = self.rate_headers(limiter.limit, limiter.remaining(), limiter.reset_in())  # type: ignore[misc]
                message = {**message, "headers": [*message.get("headers", []),
                                                  *[(k.lower().encode(), v.encode()) for k, v in extra.items()]]}
            await send(message)

        return wrapped


def admin_routes(get_injector: Callable[[], FaultInjector]) -> list[Route]:
    """`/_admin/faults` (GET, PUT replaces, PATCH merges) and `/_admin/stats` (GET, DELETE resets)."""

    async def faults(request: Request) -> Response:
        injector = get_injector()
        if request.method == "GET":
            return JSONResponse(injector.settings.model_dump())
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            base = injector.settings.model_dump() if request.method == "PATCH" else {}
            injector.configure(FaultSettings.model_validate({**base, **body}))
        except (ValueError, ValidationError) as exc:
            return JSONResponse({"error": "invalid fault settings", "detail": str(exc)}, status_code=400)
        return JSONResponse(injector.settings.model_dump())

    async def stats(request: Request) -> Response:
        injector = get_injector()
        if request.method == "DELETE":
            injector.calls.clear()
        return JSONResponse({"total": sum(injector.calls.values()), "calls": dict(injector.calls)})

    return [
        Route(f"{ADMIN_PREFIX}/faults", faults, methods=["GET", "PUT", "PATCH"]),
        Route(f"{ADMIN_PREFIX}/stats", stats, methods=["GET", "DELETE"]),
    ]
