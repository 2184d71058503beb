"""A local Microsoft Graph v1.0 (SharePoint lists) simulator that speaks the real wire format."""

from __future__ import annotations

from connectors._settings import SharePointSettings  # the settings type only (brief: allowed exception)
from sandbox._credentials import SandboxCredentials
from sandbox.sharepoint import fidelity
from sandbox.sharepoint._app import create_sharepoint_simulator

__all__ = ["create_sharepoint_simulator", "fidelity", "sandbox_settings"]


def sandbox_settings(base_url: str, credentials: SandboxCredentials) -> SharePointSettings:
    """Connector settings pointing at a simulator served at `base_url` (e.g. `http://127.0.0.1:8001`)."""
    root = base_url.rstrip("/")
    return SharePointSettings(
        base_url=f"{root}{fidelity.GRAPH_PREFIX}",
        token_url=f"{root}/{{tenant}}/oauth2/v2.0/token",
        tenant_id=credentials.sharepoint_tenant,
        client_id=credentials.sharepoint_client_id,
        client_secret=credentials.sharepoint_client_secret,
        site_id=credentials.sharepoint_site_id,
        list_id="Customers",
        documents_list_id="Documents",
    )
