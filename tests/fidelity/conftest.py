"""Fixtures for the fidelity tests: real, unmodified client libraries pointed at the simulators.

The bar (source-apis.md section 4): a mature client of each API, configured with the
simulator's base URL, works unchanged. Configuration is all these fixtures change:
URLs, credentials, and the switches each library documents for plain-http test servers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from sandbox._credentials import SandboxCredentials
from sandbox._server import ThreadedServer
from sandbox._store import Store
from sandbox.quickbooks import create_quickbooks_simulator
from sandbox.sharepoint import create_sharepoint_simulator
from tests.sharepoint._data import CUSTOMERS

Serve = Callable[[ASGIApp], ThreadedServer]


# --- QuickBooks ---------------------------------------------------------------------------------


@pytest.fixture
def qbo_server(credentials: SandboxCredentials, serve: Serve) -> ThreadedServer:
    """An empty QuickBooks company: every record in the tests is written through the library."""
    return serve(create_quickbooks_simulator(Store(None), credentials).app)


def intuit_discovery_app(oauth_base: str) -> Starlette:
    """Intuit's OpenID discovery document, naming the simulator's OAuth endpoints.

    intuitlib's AuthClient fetches this document in its constructor (its `environment`
    argument is either 'sandbox'/'production' or the document's URL). The document lives
    on developer.intuit.com, not on the API hosts the simulator stands in for, so the test
    serves it; only `token_endpoint` is ever called.
    """

    async def document(request: Request) -> JSONResponse:
        return JSONResponse({
            "issuer": oauth_base,
            "authorization_endpoint": f"{oauth_base}/connect/oauth2",
            "token_endpoint": f"{oauth_base}/oauth2/v1/tokens/bearer",
            "revocation_endpoint": f"{oauth_base}/oauth2/v1/tokens/revoke",
            "userinfo_endpoint": f"{oauth_base}/v1/openid_connect/userinfo",
            "jwks_uri": f"{oauth_base}/oauth2/v1/keys",
        })

    return Starlette(routes=[Route("/.well-known/openid_configuration", document)])


@pytest.fixture
def intuit_discovery_url(qbo_server: ThreadedServer, serve: Serve) -> str:
    return f"{serve(intuit_discovery_app(qbo_server.url)).url}/.well-known/openid_configuration"


@pytest.fixture
def oauthlib_allows_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests-oauthlib refuses plain http unless told otherwise; the simulator listens on http://127.0.0.1."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


# --- SharePoint (Microsoft Graph) ---------------------------------------------------------------


@pytest.fixture
def sp_server(credentials: SandboxCredentials, serve: Serve) -> ThreadedServer:
    """The small seeded Customers list of tests/sharepoint (five items)."""
    store = Store(None)
    store.collection("customers").put_many((c["id"], c) for c in CUSTOMERS)
    return serve(create_sharepoint_simulator(store, credentials).app)


@pytest.fixture
def graph_token(sp_server: ThreadedServer, credentials: SandboxCredentials) -> str:
    """An app-only token from the simulator's Entra ID endpoint (client credentials grant)."""
    resp = httpx.post(f"{sp_server.url}/{credentials.sharepoint_tenant}/oauth2/v2.0/token", data={
        "client_id": credentials.sharepoint_client_id,
        "client_secret": credentials.sharepoint_client_secret,
        "scope": "https://graph.microsoft.com/.default",
        "grant_type": "client_credentials",
    })
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return str(body["access_token"])
