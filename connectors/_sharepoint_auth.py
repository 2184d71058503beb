"""Entra ID client-credentials tokens for Microsoft Graph (source-apis.md 1.1), as a SourceClient AuthProvider.

The token is cached until shortly before it expires and fetched again once after a 401;
neither the client secret nor the token is ever logged.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable, Mapping

import httpx

from connectors._errors import AuthenticationFailed, ConnectorError, SourceUnavailable
from connectors._http import Sleep, throttled
from connectors._record import SystemName
from connectors._retry import retry_delay
from connectors._settings import SharePointSettings, UpstreamLimits

#: Ask for a new token this long before the old one expires (Microsoft's guidance: ~5 minutes).
REFRESH_MARGIN_S = 300.0

#: The token the current task sent, so that `refresh` can tell whether another task already replaced it.
_token_in_use: contextvars.ContextVar[str | None] = contextvars.ContextVar("c360_graph_token", default=None)


class GraphTokenAuth:
    """Bearer headers from the client-credentials grant; one token shared by all concurrent calls."""

    def __init__(
        self,
        settings: SharePointSettings,
        limits: UpstreamLimits,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._limits = limits
        self._sleep = sleep
        self._clock = clock
        self._token_url = settings.token_url.replace("{tenant}", settings.tenant_id)
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        #: Tokens obtained so far (tests check that an expired token is replaced exactly once).
        self.tokens_fetched = 0

    async def headers(self, client: httpx.AsyncClient) -> Mapping[str, str]:
        token = self._token if self._token is not None and self._clock() < self._renew_at else None
        if token is None:
            async with self._lock:
                if self._token is None or self._clock() >= self._renew_at:
                    await self._fetch(client)
                token = self._token
        assert token is not None
        _token_in_use.set(token)
        return {"Authorization": f"Bearer {token}"}

    async def refresh(self, client: httpx.AsyncClient) -> bool:
        failed = _token_in_use.get()
        async with self._lock:
            # Many calls can hit 401 at once when a token dies; only the first one fetches a new token.
            if self._token is not None and self._token != failed:
                return True
            self._token = None
            try:
                await self._fetch(client)
            except httpx.TransportError as exc:
                reason = f"token endpoint unreachable: {type(exc).__name__}"
                raise SourceUnavailable(SystemName.SHAREPOINT, reason) from exc
        return True

    async def _fetch(self, client: httpx.AsyncClient) -> None:
        """POST the token request, retrying throttling and server errors (transport errors propagate)."""
        form = {
            "client_id": self._settings.client_id,
            "client_secret": self._settings.client_secret.get_secret_value(),
            "scope": self._settings.scope,
            "grant_type": "client_credentials",
        }
        started = self._clock()
        attempt = 0
        while True:
            resp = await client.post(self._token_url, data=form)
            if resp.status_code == 200:
                self._accept(resp)
                return
            failure = _token_error(resp)
            attempt += 1
            if not failure.transient or attempt >= self._limits.max_attempts:
                raise failure
            delay = retry_delay(resp, attempt - 1, self._limits)
            if self._clock() - started + delay > self._limits.retry_deadline_s:
                raise failure
            await self._sleep(delay)

    def _accept(self, resp: httpx.Response) -> None:
        try:
            body = resp.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in") or 3599)
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthenticationFailed(SystemName.SHAREPOINT, "token response without access_token") from exc
        self._token = token
        self._renew_at = self._clock() + lifetime - min(REFRESH_MARGIN_S, lifetime / 2)
        self.tokens_fetched += 1


def _token_error(resp: httpx.Response) -> ConnectorError:
    """OAuth errors name an `error` and AADSTS codes; the description is left out (it can echo input)."""
    system = SystemName.SHAREPOINT
    if resp.status_code == 429:
        return throttled(system, resp, "token endpoint throttled")
    if resp.status_code >= 500:
        return SourceUnavailable(system, f"token endpoint answered {resp.status_code}", status=resp.status_code)
    try:
        body = resp.json()
        error = str(body.get("error") or "unknown_error")
        codes = ",".join(f"AADSTS{c}" for c in body.get("error_codes") or [])
    except (ValueError, AttributeError):
        error, codes = "unknown_error", ""
    return AuthenticationFailed(
        system, f"token request refused: {error} {codes}".strip(), status=resp.status_code, code=error
    )
