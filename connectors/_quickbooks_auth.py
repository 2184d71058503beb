"""Intuit OAuth2 for the QuickBooks connector: refresh-token grant, cached access token, rotation.

Intuit may hand out a new refresh token on every refresh and the old one dies
after a while, so the latest one is written to `settings.token_store` at once;
losing it means a person has to reconnect the app. Caching, single-flight renewal
and retries come from `CachedBearerAuth`. Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from connectors._errors import AuthenticationFailed
from connectors._http import Sleep, json_body
from connectors._record import SystemName
from connectors._settings import QuickBooksSettings, UpstreamLimits
from connectors._token_auth import CachedBearerAuth

log = logging.getLogger("c360.connectors.quickbooks")


class QuickBooksAuth(CachedBearerAuth[QuickBooksSettings]):
    """AuthProvider for SourceClient: `Authorization: Bearer`, refreshed once per expiry."""

    system = SystemName.QUICKBOOKS
    default_lifetime_s = 3600.0
    max_margin_share = 0.1

    def __init__(
        self,
        settings: QuickBooksSettings,
        limits: UpstreamLimits,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings, limits, sleep=sleep, clock=clock)
        self._store = Path(settings.token_store) if settings.token_store else None
        self._refresh_token = self._load_refresh_token() or settings.refresh_token.get_secret_value()

    async def _grant(self, client: httpx.AsyncClient) -> Mapping[str, Any]:
        """Try the latest refresh token, then the configured one (the app may have been reconnected since)."""
        tried: list[str] = []
        candidates = [self._refresh_token, self._settings.refresh_token.get_secret_value()]
        for refresh_token in candidates:
            if not refresh_token or refresh_token in tried:
                continue
            tried.append(refresh_token)
            resp = await self._post(
                client,
                self._settings.token_url,
                data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                auth=(self._settings.client_id, self._settings.client_secret.get_secret_value()),
                headers={"Accept": "application/json"},
            )
            if resp.status_code == 200:
                body = self._json(resp)
                self._keep_refresh_token(body.get("refresh_token"), used=refresh_token)
                return body
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

    def _keep_refresh_token(self, issued: Any, used: str) -> None:
        """Persist a rotated refresh token, or the one that worked if it is not the stored one."""
        if issued and issued != self._refresh_token:
            self._refresh_token = str(issued)
            self._save_refresh_token()
        elif used != self._refresh_token:
            self._refresh_token = used
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
        body = json_body(resp)
    except ValueError:
        return f"http_{resp.status_code}"
    return str(body.get("error") or f"http_{resp.status_code}") if isinstance(body, dict) else f"http_{resp.status_code}"
