"""A cached OAuth bearer token, renewed once per expiry or 401, however many calls need it at once.

Graph (client credentials) and QuickBooks (refresh-token grant) differ only in how
they ask for a token and how they read a refusal; caching, single-flight renewal
and riding out a flaky token endpoint live here once. Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from connectors._errors import AuthenticationFailed, ConnectorError, SourceUnavailable
from connectors._http import Sleep, throttled, json_body
from connectors._record import SystemName
from connectors._retry import may_retry_after, retry_delay
from connectors._settings import UpstreamLimits

SettingsT = TypeVar("SettingsT")

#: Renew at most this long before the token expires (Microsoft's and Intuit's guidance: ~5 minutes).
EXPIRY_MARGIN_S = 300.0

#: (id of the auth, token) this task last sent: a 401 renews only if nobody replaced that token since.
_token_sent: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar("c360_token_sent", default=None)


class CachedBearerAuth(ABC, Generic[SettingsT]):
    """AuthProvider sending `Authorization: Bearer`; subclasses say how to obtain a token (`_grant`).

    N concurrent calls that find the token expired, or all get a 401 for it, cause one
    token request: renewal runs under a lock and skips if another task already renewed.
    """

    #: The system named in errors.
    system: ClassVar[SystemName]
    #: Lifetime assumed when the token response has no `expires_in`.
    default_lifetime_s: ClassVar[float] = 3600.0
    #: The renewal margin never exceeds this share of the lifetime (short-lived tokens stay usable).
    max_margin_share: ClassVar[float] = 0.1

    def __init__(
        self,
        settings: SettingsT,
        limits: UpstreamLimits,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._limits = limits
        self._sleep = sleep
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        #: POSTs sent to the token endpoint, retries included (tests and benchmarks read it).
        self.token_requests = 0
        #: Tokens obtained (tests check that an expired token is replaced exactly once).
        self.tokens_fetched = 0

    async def headers(self, client: httpx.AsyncClient) -> Mapping[str, str]:
        token = self._token
        if token is None or self._clock() >= self._renew_at:
            token = await self._renew(client, stale=token)
        _token_sent.set((id(self), token))
        return {"Authorization": f"Bearer {token}"}

    async def refresh(self, client: httpx.AsyncClient) -> bool:
        sent = _token_sent.get()
        # Without a record of what this task sent, treat the cached token as the one refused.
        await self._renew(client, stale=sent[1] if sent is not None and sent[0] == id(self) else self._token)
        return True

    @abstractmethod
    async def _grant(self, client: httpx.AsyncClient) -> Mapping[str, Any]:
        """Ask this system for a token (via `_post`); the JSON of the 200 answer, or its ConnectorError."""

    async def _renew(self, client: httpx.AsyncClient, stale: str | None) -> str:
        async with self._lock:
            if self._token is not None and self._token != stale and self._clock() < self._renew_at:
                return self._token  # another task renewed while this one waited
            self._token = None  # expired or refused: never hand it out again, even if renewal fails
            token, lifetime = self._read(await self._grant(client))
            self._token = token
            self._renew_at = self._clock() + lifetime - min(EXPIRY_MARGIN_S, lifetime * self.max_margin_share)
            self.tokens_fetched += 1
            return token

    async def _post(self, client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
        """POST to the token endpoint, riding out throttling, 5xx and dropped connections.

        Returns the first other answer (success or refusal) for the subclass to read; raises
        RateLimited or SourceUnavailable once `limits.max_attempts` or the retry deadline is spent.
        """
        started = self._clock()
        attempt = 0
        while True:
            resp: httpx.Response | None = None
            failure: ConnectorError
            self.token_requests += 1
            try:
                resp = await client.post(url, **kwargs)
            except httpx.TransportError as exc:
                failure = SourceUnavailable(self.system, f"token endpoint unreachable: {type(exc).__name__}")
                failure.__cause__ = exc
            else:
                if resp.status_code == 429:
                    failure = throttled(self.system, resp, "token endpoint throttled")
                elif resp.status_code >= 500:
                    failure = SourceUnavailable(
                        self.system, f"token endpoint answered {resp.status_code}", status=resp.status_code
                    )
                else:
                    return resp
            attempt += 1
            if attempt >= self._limits.max_attempts:
                raise failure
            delay = retry_delay(resp, attempt - 1, self._limits)
            if not may_retry_after(delay, self._clock() - started, self._limits):
                raise failure
            await self._sleep(delay)

    def _json(self, resp: httpx.Response) -> Mapping[str, Any]:
        """The body of a token answer; a malformed one is an auth failure, not a crash."""
        try:
            body = json_body(resp)
        except ValueError as exc:
            raise AuthenticationFailed(self.system, "token response is not JSON") from exc
        if not isinstance(body, Mapping):
            raise AuthenticationFailed(self.system, "token response is not a JSON object")
        return body

    def _read(self, body: Mapping[str, Any]) -> tuple[str, float]:
        try:
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in") or self.default_lifetime_s)
        except (KeyError, TypeError, ValueError) as exc:
            raise AuthenticationFailed(self.system, "token response without access_token") from exc
        return token, lifetime
