"""Intuit OAuth2 for the QuickBooks connector: refresh-token grant, cached access token, rotation.

Intuit may hand out a new refresh token on every refresh and the old one dies
after a while, so the latest one is written to `settings.token_store` at once;
losing it means a person has to reconnect the app. Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from connectors._errors import AuthenticationFailed, RateLimited, SourceUnavailable
from connectors._record import SystemName
from connectors._retry import retry_delay, server_retry_after
from connectors._settings import QuickBooksSettings, UpstreamLimits

log = logging.getLogger("c360.connectors.quickbooks")

#: Renew this long before the access token expires (capped at a tenth of its lifetime).
EXPIRY_MARGIN_S = 300.0

#: The access token a request was sent with, so a 401 refreshes only if nobody refreshed since.
_token_used: contextvars.ContextVar[str | None] = contextvars.ContextVar("qbo_token_used", default=None)

Sleep = Callable[[float], Any]


class QuickBooksAuth:
    """AuthProvider for SourceClient: `Authorization: Bearer`, refreshed once per expiry."""

    def __init__(
        self,
        settings: QuickBooksSettings,
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
        self._access: str | None = None
        self._renew_at = 0.0
        self._store = Path(settings.token_store) if settings.token_store else None
        self._refresh_token = self._load_refresh_token() or settings.refresh_token.get_secret_value()
        #: Calls made to the token endpoint (tests and benchmarks read it).
        self.token_requests = 0

    async def headers(self, client: httpx.AsyncClient) -> Mapping[str, str]:
        token = self._access
        if token is None or self._clock() >= self._renew_at:
            token = await self._renew(client, stale=token)
        _token_used.set(token)
        return {"Authorization": f"Bearer {token}"}

    async def refresh(self, client: httpx.AsyncClient) -> bool:
        await self._renew(client, stale=_token_used.get())
        return True

    async def _renew(self, client: httpx.AsyncClient, stale: str | None) -> str:
        async with self._lock:
            if self._access is not None and self._access != stale and self._clock() < self._renew_at:
                return self._access  # another task refreshed while we waited
            await self._grant(client)
            assert self._access is not None
            return self._access

    async def _grant(self, client: httpx.AsyncClient) -> None:
        tried: list[str] = []
        candidates = [self._refresh_token, self._settings.refresh_token.get_secret_value()]
        for refresh_token in candidates:
            if not refresh_token or refresh_token in tried:
                continue
            tried.append(refresh_token)
            resp = await self._post_token(client, refresh_token)
            if resp.status_code == 200:
                self._accept(resp.json(), refresh_token)
                return
            error = _oauth_error(resp)
            if resp.status_code == 400 and error == "invalid_grant":
                # The configured token may be newer than the stored one (the app was reconnected).
                log.warning("quickbooks refresh token rejected", extra={"system": "quickbooks", "error": error})
                continue
            raise AuthenticationFailed(SystemName.QUICKBOOKS, f"token endpoint refused the client ({error})",
                                       status=resp.status_code, code=error)
        raise AuthenticationFailed(
            SystemName.QUICKBOOKS, "refresh token invalid or expired (invalid_grant): reconnect the QuickBooks app",
            status=400, code="invalid_grant",
        )

    async def _post_token(self, client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
        """POST to the token endpoint, riding out throttling, outages and dropped connections."""
        started = self._clock()
        attempt = 0
        while True:
            resp: httpx.Response | None = None
            self.token_requests += 1
            try:
                resp = await client.post(
                    self._settings.token_url,
                    data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                    auth=(self._settings.client_id, self._settings.client_secret.get_secret_value()),
                    headers={"Accept": "application/json"},
                )
            except httpx.TransportError as exc:
                failure: Exception = SourceUnavailable(SystemName.QUICKBOOKS, f"token endpoint: {type(exc).__name__}")
                failure.__cause__ = exc
            else:
                if resp.status_code not in (429, 500, 502, 503, 504):
                    return resp
                failure = (
                    RateLimited(SystemName.QUICKBOOKS, "token endpoint throttled", retry_after=server_retry_after(resp),
                                status=429)
                    if resp.status_code == 429
                    else SourceUnavailable(SystemName.QUICKBOOKS, "token endpoint unavailable", status=resp.status_code)
                )
            attempt += 1
            delay = retry_delay(resp, attempt - 1, self._limits)
            if attempt >= self._limits.max_attempts or self._clock() - started + delay > self._limits.retry_deadline_s:
                raise failure
            await self._sleep(delay)

    def _accept(self, body: Mapping[str, Any], used_refresh_token: str) -> None:
        self._access = str(body["access_token"])
        lifetime = float(body.get("expires_in") or 3600)
        self._renew_at = self._clock() + lifetime - min(EXPIRY_MARGIN_S, lifetime / 10)
        new_refresh = body.get("refresh_token")
        if new_refresh and new_refresh != self._refresh_token:
            self._refresh_token = str(new_refresh)
            self._save_refresh_token()
        elif used_refresh_token != self._refresh_token:
            self._refresh_token = used_refresh_token
            self._save_refresh_token()

    def _load_refresh_token(self) -> str | None:
        if self._store is None or not self._store.exists():
            return None
        try:
            data = json.loads(self._store.read_text())
        except (OSError, ValueError):
            log.warning("unreadable quickbooks token store", extra={"system": "quickbooks", "path": str(self._store)})
            return None
        if data.get("realm_id") not in (None, self._settings.realm_id):
            return None
        token = data.get("refresh_token")
        return str(token) if token else None

    def _save_refresh_token(self) -> None:
        if self._store is None:
            return
        payload = {
            "realm_id": self._settings.realm_id,
            "refresh_token": self._refresh_token,
            "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        tmp = self._store.with_name(f".{self._store.name}.tmp")
        try:
            self._store.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(payload, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self._store)
        except OSError:
            # Losing the rotated token forces a reconnect later, but failing this call helps nobody.
            log.error("could not persist the rotated quickbooks refresh token",
                      extra={"system": "quickbooks", "path": str(self._store)})


def _oauth_error(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"http_{resp.status_code}"
    return str(body.get("error") or f"http_{resp.status_code}") if isinstance(body, dict) else f"http_{resp.status_code}"
