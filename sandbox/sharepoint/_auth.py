"""Entra ID client-credentials tokens for the simulator: the token endpoint and bearer checks."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox._credentials import SandboxCredentials
from sandbox.sharepoint._wire import GraphError

_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
_WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    f'client_id="{_GRAPH_APP_ID}"'
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """Issues opaque JWT-looking tokens and remembers when each one expires."""

    def __init__(self, credentials: SandboxCredentials, lifetime_s: float, clock: Callable[[], float] = time.time):
        self.credentials = credentials
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._tokens: dict[str, float] = {}
        #: Tokens handed out so far (tests check that a client refreshes exactly once).
        self.issued = 0

    def issue(self) -> tuple[str, int]:
        now = self._clock()
        lifetime = int(self.lifetime_s)
        header = _b64url(json.dumps({"typ": "JWT", "alg": "RS256", "kid": "c360-sandbox"}).encode())
        payload = _b64url(
            json.dumps(
                {"aud": "https://graph.microsoft.com", "appid": self.credentials.sharepoint_client_id,
                 "iat": int(now), "exp": int(now) + lifetime, "roles": ["Sites.ReadWrite.All"],
                 "jti": str(uuid.uuid4())}
            ).encode()
        )
        token = f"{header}.{payload}.{_b64url(secrets.token_bytes(32))}"
        self._tokens[token] = now + self.lifetime_s
        self.issued += 1
        return token, lifetime

    def expire_all(self) -> None:
        """Every token issued so far becomes expired (as if its lifetime had run out)."""
        self._tokens = {token: 0.0 for token in self._tokens}

    def authenticate(self, request: Request) -> None:
        """Raise the Graph 401 unless the request carries a live bearer token."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header or scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Access token is empty.")
        expires = self._tokens.get(token.strip())
        if expires is None:
            raise _unauthorized("IDX14100: JWT is not well formed, there are no dots (.).")
        if self._clock() >= expires:
            raise _unauthorized("Lifetime validation failed, the token is expired.")


def _unauthorized(message: str) -> GraphError:
    return GraphError(401, "InvalidAuthenticationToken", message, headers={"WWW-Authenticate": _WWW_AUTHENTICATE})


def _oauth_error(status: int, error: str, code: int, description: str) -> Response:
    now = datetime.now(timezone.utc)
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    body: dict[str, Any] = {
        "error": error,
        "error_description": (
            f"AADSTS{code}: {description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\n"
            f"Timestamp: {now.strftime('%Y-%m-%d %H:%M:%SZ')}"
        ),
        "error_codes": [code],
        "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote(user), unquote(password)


def token_endpoint(issuer: TokenIssuer) -> Callable[[Request], Any]:
    """`POST /{tenant}/oauth2/v2.0/token` (client credentials grant, form-encoded)."""
    creds = issuer.credentials

    async def handler(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if tenant.lower() != creds.sharepoint_tenant.lower():
            return _oauth_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        # Parsed by hand: Starlette's form parser needs python-multipart, which is not a dependency.
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        grant = str(form.get("grant_type") or "")
        if grant != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        client_id = str(form.get("client_id") or "")
        client_secret = str(form.get("client_secret") or "")
        if (basic := _basic_credentials(request)) is not None:
            client_id, client_secret = client_id or basic[0], client_secret or basic[1]
        if client_id != creds.sharepoint_client_id:
            return _oauth_error(
                400, "unauthorized_client", 700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
            )
        if not client_secret:
            return _oauth_error(
                401, "invalid_client", 7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        if not secrets.compare_digest(client_secret, creds.sharepoint_client_secret):
            return _oauth_error(
                401, "invalid_client", 7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                f"secret value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
        scope = str(form.get("scope") or "")
        if not scope.endswith("/.default"):
            return _oauth_error(
                400, "invalid_scope", 1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have a scope "
                "value with /.default suffixed to the resource identifier (application ID URI).",
            )
        token, lifetime = issuer.issue()
        return JSONResponse(
            {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token},
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )

    return handler
