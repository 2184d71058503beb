"""Connector settings for the local simulators: the same connectors, only URLs and credentials differ.

Lives in the gateway (not in sandbox/) because the sandbox stands alone, like the real
systems, and knows nothing of c360's connectors.
"""

from __future__ import annotations

from pydantic import SecretStr

from connectors import QuickBooksSettings, SharePointSettings, TeamworkSettings
from sandbox._credentials import SandboxCredentials

#: Where the SharePoint simulator serves Microsoft Graph under its base URL.
GRAPH_PREFIX = "/v1.0"


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
    )


def teamwork_settings(base_url: str, credentials: SandboxCredentials) -> TeamworkSettings:
    return TeamworkSettings(base_url=base_url.rstrip("/"), api_key=SecretStr(credentials.teamwork_api_key))


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
    )
