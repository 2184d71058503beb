"""Intuit's OAuth2 token endpoint: authorization-code and rotating refresh-token grants.

Token state lives in the store's meta table (as SHA-256 digests, never the tokens
themselves) so a restarted simulator keeps honouring the tokens it issued.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox._credentials import SandboxCredentials
from sandbox._store import Store
from sandbox.quickbooks import fidelity
from sandbox.quickbooks._wire import intuit_tid

_META_KEY = "oauth_state"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class TokenSettings:
    """Runtime-adjustable lifetimes (tests shorten them; `/_admin/oauth` changes them)."""

    access_token_ttl_s: float = fidelity.ACCESS_TOKEN_TTL_S
    refresh_token_ttl_s: float = fidelity.REFRESH_TOKEN_TTL_S
    refresh_grace_s: float = fidelity.REFRESH_TOKEN_GRACE_S


class TokenAuthority:
    """Issues and checks tokens for one app (client id/secret) and one company."""

    def __init__(
        self,
        store: Store,
        credentials: SandboxCredentials,
        settings: TokenSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._client_id = credentials.quickbooks_client_id
        self._client_secret = credentials.quickbooks_client_secret
        self.settings = settings or TokenSettings()
        self._clock = clock
        #: digest -> expiry (epoch seconds)
        self._access: dict[str, float] = {}
        #: digest -> {"expires": epoch, "superseded": bool}
        self._refresh: dict[str, dict[str, Any]] = {}
        self._codes: dict[str, float] = {}
        saved = store.get_meta(_META_KEY)
        if saved:
            state = orjson.loads(saved)
            self._access = state.get("access", {})
            self._refresh = state.get("refresh", {})
            self._codes = state.get("codes", {})
        else:
            initial = _digest(credentials.quickbooks_refresh_token)
            self._refresh[initial] = {"expires": clock() + self.settings.refresh_token_ttl_s, "superseded": False}
            self._save()

    # --- checks --------------------------------------------------------------------------

    def access_token_valid(self, token: str) -> bool:
        expires = self._access.get(_digest(token))
        return expires is not None and self._clock() < expires

    def client_valid(self, authorization: str | None) -> bool:
        if not authorization or not authorization.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, _, secret = decoded.partition(":")
        return hmac.compare_digest(client_id, self._client_id) and hmac.compare_digest(secret, self._client_secret)

    # --- admin ---------------------------------------------------------------------------

    def expire_access_tokens(self) -> int:
        """Make every issued access token invalid now (forces clients to refresh)."""
        count = len(self._access)
        self._access.clear()
        self._save()
        return count

    def mint_code(self) -> str:
        code = f"AB11{secrets.token_urlsafe(24)}"
        self._codes[_digest(code)] = self._clock() + fidelity.AUTHORIZATION_CODE_TTL_S
        self._save()
        return code

    # --- grants --------------------------------------------------------------------------

    def grant_refresh(self, refresh_token: str) -> dict[str, Any] | None:
        now = self._clock()
        entry = self._refresh.get(_digest(refresh_token))
        if entry is None or now >= entry["expires"]:
            return None
        return self._issue(now)

    def grant_code(self, code: str) -> dict[str, Any] | None:
        now = self._clock()
        expires = self._codes.pop(_digest(code), None)
        if expires is None or now >= expires:
            self._save()
            return None
        return self._issue(now)

    def _issue(self, now: float) -> dict[str, Any]:
        """New access token and a rotated refresh token; older refresh tokens enter their grace period."""
        for entry in self._refresh.values():
            if not entry["superseded"]:
                entry["superseded"] = True
                entry["expires"] = min(entry["expires"], now + self.settings.refresh_grace_s)
        access = secrets.token_urlsafe(48)
        refresh = f"AB11{secrets.token_urlsafe(36)}"
        self._access[_digest(access)] = now + self.settings.access_token_ttl_s
        self._refresh[_digest(refresh)] = {"expires": now + self.settings.refresh_token_ttl_s, "superseded": False}
        self._access = {k: v for k, v in self._access.items() if v > now}
        self._refresh = {k: v for k, v in self._refresh.items() if v["expires"] > now}
        self._codes = {k: v for k, v in self._codes.items() if v > now}
        self._save()
        return {
            "token_type": "bearer",
            "access_token": access,
            "expires_in": int(self.settings.access_token_ttl_s),
            "refresh_token": refresh,
            "x_refresh_token_expires_in": int(self.settings.refresh_token_ttl_s),
        }

    def _save(self) -> None:
        state = {"access": self._access, "refresh": self._refresh, "codes": self._codes}
        self._store.set_meta(_META_KEY, orjson.dumps(state).decode())


def _oauth_error(error: str, status: int = 400) -> Response:
    return JSONResponse({"error": error}, status_code=status, headers={"intuit_tid": intuit_tid()})


async def token_endpoint(request: Request, authority: TokenAuthority) -> Response:
    """POST /oauth2/v1/tokens/bearer (form-encoded, client authenticated with Basic)."""
    if not authority.client_valid(request.headers.get("authorization")):
        return _oauth_error("invalid_client", 401)
    # Parsed by hand: starlette's form parser needs python-multipart, which c360 does not ship.
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    grant_type = str(form.get("grant_type") or "")
    if grant_type == "refresh_token":
        issued = authority.grant_refresh(str(form.get("refresh_token") or ""))
    elif grant_type == "authorization_code":
        if not form.get("redirect_uri"):
            return _oauth_error("invalid_request")
        issued = authority.grant_code(str(form.get("code") or ""))
    else:
        return _oauth_error("unsupported_grant_type")
    if issued is None:
        return _oauth_error("invalid_grant")
    return JSONResponse(issued, headers={"intuit_tid": intuit_tid(), "Cache-Control": "no-store"})
