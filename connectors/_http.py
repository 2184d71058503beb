"""The HTTP edge every connector shares: auth headers, retries, timeouts, error translation.

A connector supplies its auth and a function that turns its system's error bodies
into `ConnectorError`s; everything about *when* to try again lives here once.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Protocol

import httpx
import orjson

from connectors._errors import ConnectorError, RateLimited, SourceTimeout, SourceUnavailable, retried_failures
from connectors._record import SystemName
from connectors._retry import may_retry_after, retry_delay, server_retry_after
from connectors._settings import UpstreamLimits

log = logging.getLogger("c360.connectors")


#: Set by the gateway per incoming request; forwarded upstream so one id follows a query everywhere.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("c360_request_id", default=None)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuthProvider(Protocol):
    """Supplies auth headers; `refresh` is called once after a 401 to get fresh credentials."""

    async def headers(self, client: httpx.AsyncClient) -> Mapping[str, str]: ...

    async def refresh(self, client: httpx.AsyncClient) -> bool:
        """Drop cached credentials and get new ones; False if there is nothing to refresh."""
        ...


class StaticAuth:
    """Fixed headers (API keys): nothing to refresh, so a 401 is final."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    async def headers(self, client: httpx.AsyncClient) -> Mapping[str, str]:
        return self._headers

    async def refresh(self, client: httpx.AsyncClient) -> bool:
        return False


ErrorTranslator = Callable[[httpx.Response], ConnectorError]
Sleep = Callable[[float], Awaitable[None]]


def json_body(resp: httpx.Response) -> Any:
    """The response's JSON, parsed by orjson (a page of records is ~1 MB; the stdlib parser was ~6% of a
    page's CPU). Raises ValueError on a body that is not JSON, as `httpx.Response.json` does."""
    return orjson.loads(resp.content)


def build_http_client(
    base_url: str, limits: UpstreamLimits, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """One pooled client per system, with explicit timeouts (never the library default)."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(limits.timeout_s, connect=limits.connect_timeout_s),
        limits=httpx.Limits(max_connections=limits.max_connections, max_keepalive_connections=limits.max_connections),
        transport=transport,
    )


class SourceClient:
    """Sends one logical request to a system, retrying only when that is safe."""

    def __init__(
        self,
        system: SystemName,
        client: httpx.AsyncClient,
        limits: UpstreamLimits,
        auth: AuthProvider,
        translate_error: ErrorTranslator,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.system = system
        self.http = client
        self.limits = limits
        self.auth = auth
        self._translate = translate_error
        self._sleep = sleep
        #: Upstream HTTP requests sent (attempts included): benchmarks and tests read it.
        self.requests_sent = 0

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        ok: Collection[int] = (200, 201, 204),
    ) -> httpx.Response:
        """Send and return a response whose status is in `ok`, or raise a `ConnectorError`.

        `idempotent` defaults to True for safe methods. A non-idempotent write is
        retried only when the system says it did not process it (429, 503) or the
        connection was never made.
        """
        method = method.upper()
        idempotent = method in SAFE_METHODS if idempotent is None else idempotent
        started = time.monotonic()
        refreshed = False
        attempt = 0
        while True:
            resp: httpx.Response | None = None
            failure: ConnectorError
            try:
                sent_headers = dict(await self.auth.headers(self.http))
                if headers:
                    sent_headers.update(headers)
                if (rid := request_id_var.get()) is not None:
                    sent_headers.setdefault("X-Request-Id", rid)
                self.requests_sent += 1
                resp = await self.http.request(
                    method, url, params=params, json=json, content=content, headers=sent_headers
                )
            except httpx.ConnectError as exc:
                failure = SourceUnavailable(self.system, f"cannot connect: {type(exc).__name__}")
                retryable = True  # nothing reached the system, so even a write is safe to repeat
            except httpx.TimeoutException as exc:
                failure = SourceTimeout(self.system, f"no answer within {self.limits.timeout_s:g}s")
                failure.__cause__ = exc
                retryable = idempotent
            except httpx.TransportError as exc:
                failure = SourceUnavailable(self.system, f"connection failed: {type(exc).__name__}")
                failure.__cause__ = exc
                retryable = idempotent
            else:
                self._log(method, url, resp, started)
                if resp.status_code in ok:
                    return resp
                if resp.status_code == 401 and not refreshed:
                    refreshed = True
                    if await self.auth.refresh(self.http):
                        continue
                failure = self._translate(resp)
                retryable = resp.status_code in (429, 503) or (idempotent and resp.status_code in (502, 504))
            attempt += 1
            if not retryable or attempt >= self.limits.max_attempts:
                raise failure
            delay = retry_delay(resp, attempt - 1, self.limits)
            if not may_retry_after(delay, time.monotonic() - started, self.limits):
                raise failure
            if (seen := retried_failures.get()) is not None:
                seen.append(failure)
            log.info(
                "retrying upstream call",
                extra={"system": str(self.system), "attempt": attempt, "delay_s": round(delay, 3),
                       "reason": type(failure).__name__},
            )
            await self._sleep(delay)

    def _log(self, method: str, url: str, resp: httpx.Response, started: float) -> None:
        # Path only: query strings can hold emails and names.
        log.debug(
            "upstream call",
            extra={
                "system": str(self.system),
                "method": method,
                "path": resp.request.url.path,
                "status": resp.status_code,
                "ms": round((time.monotonic() - started) * 1000, 1),
                "upstream_request_id": resp.headers.get("request-id") or resp.headers.get("intuit_tid"),
            },
        )


def throttled(system: SystemName, resp: httpx.Response, message: str) -> RateLimited:
    """A RateLimited error carrying the wait the system asked for."""
    return RateLimited(system, message, retry_after=server_retry_after(resp), status=resp.status_code)
