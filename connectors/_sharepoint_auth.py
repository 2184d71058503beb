"""Entra ID client-credentials tokens for Microsoft Graph (source-apis.md 1.1), as a SourceClient AuthProvider.

Caching, single-flight renewal and retries come from `CachedBearerAuth`; this module
only builds the client-credentials request and reads Entra's refusals.
Neither the client secret nor the token is ever logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from connectors._errors import AuthenticationFailed
from connectors._record import SystemName
from connectors._settings import SharePointSettings
from connectors._http import json_body
from connectors._token_auth import CachedBearerAuth


class GraphTokenAuth(CachedBearerAuth[SharePointSettings]):
    """Bearer headers from the client-credentials grant; one token shared by all concurrent calls."""

    system = SystemName.SHAREPOINT
    default_lifetime_s = 3599.0
    max_margin_share = 0.5

    async def _grant(self, client: httpx.AsyncClient) -> Mapping[str, Any]:
        form = {
            "client_id": self._settings.client_id,
            "client_secret": self._settings.client_secret.get_secret_value(),
            "scope": self._settings.scope,
            "grant_type": "client_credentials",
        }
        token_url = self._settings.token_url.replace("{tenant}", self._settings.tenant_id)
        resp = await self._post(client, token_url, data=form)
        if resp.status_code != 200:
            raise _refusal(resp)
        return self._json(resp)


def _refusal(resp: httpx.Response) -> AuthenticationFailed:
    """OAuth errors name an `error` and AADSTS codes; the description is left out (it can echo input)."""
    try:
        body = json_body(resp)
        error = str(body.get("error") or "unknown_error")
        codes = ",".join(f"AADSTS{c}" for c in body.get("error_codes") or [])
    except (ValueError, AttributeError):
        error, codes = "unknown_error", ""
    return AuthenticationFailed(
        SystemName.SHAREPOINT, f"token request refused: {error} {codes}".strip(), status=resp.status_code, code=error
    )
