"""Connector settings for the local simulators: the same connectors, only URLs and credentials differ.

Lives in the gateway (not in sandbox/) because the sandbox stands alone, like the real
systems, and knows nothing of c360's connectors.
"""

from __future__ import annotations

import hashlib

from pydantic import SecretStr

from connectors import QuickBooksSettings, SharePointSettings, TeamworkSettings
from sandbox._credentials import SandboxCredentials

#: Where the SharePoint simulator serves Microsoft Graph under its base URL.
GRAPH_PREFIX = "/v1.0"


class SandboxCredentialsMissing(RuntimeError):
    """The sandbox credentials file (or the sandbox code) predates a secret the gateway needs."""


def webhook_secret(credentials: SandboxCredentials, name: str) -> str | None:
    """A webhook secret of the simulators (added with issue 7), or None when this sandbox has none."""
    value = getattr(credentials, name, None)
    return value if isinstance(value, str) and value else None


def graph_client_state(credentials: SandboxCredentials) -> str:
    """Our Graph subscriptions' clientState in the sandbox: derived from the data dir's own secret, so
    it is random per data dir, stable across restarts, and needs no new field in credentials.json."""
    digest = hashlib.sha256(f"c360-graph-client-state:{credentials.sharepoint_client_secret}".encode())
    return digest.hexdigest()


def sharepoint_settings(base_url: str, credentials: SandboxCredentials) -> SharePointSettings:
    root = base_url.rstrip("/")
    return SharePointSettings(
        base_url=f"{root}{GRAPH_PREFIX}",
        token_url=f"{root}/{{tenant}}/oauth2/v2.0/token",
        tenant_id=credentials.sharepoint_tenant,
        client_id=credentials.sharepoint_client_id,
        client_secret=SecretStr(credentials.sharepoint_client_secret),
        site_id=credentials.sharepoint_site_id,
        list_id="Customers",
        documents_list_id="Documents",
        webhook_client_state=SecretStr(graph_client_state(credentials)),
    )


def teamwork_settings(base_url: str, credentials: SandboxCredentials) -> TeamworkSettings:
    return TeamworkSettings(
        base_url=base_url.rstrip("/"), api_key=SecretStr(credentials.teamwork_api_key),
        webhook_token=SecretStr(webhook_secret(credentials, "teamwork_webhook_token") or ""),
    )


def quickbooks_settings(base_url: str, credentials: SandboxCredentials) -> QuickBooksSettings:
    base = base_url.rstrip("/")
    return QuickBooksSettings(
        base_url=base,
        token_url=f"{base}/oauth2/v1/tokens/bearer",
        app_url=f"{base}/app",
        realm_id=credentials.quickbooks_realm_id,
        client_id=credentials.quickbooks_client_id,
        client_secret=SecretStr(credentials.quickbooks_client_secret),
        refresh_token=SecretStr(credentials.quickbooks_refresh_token),
        webhook_verifier=SecretStr(webhook_secret(credentials, "quickbooks_webhook_verifier") or ""),
    )
