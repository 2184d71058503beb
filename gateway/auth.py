"""API-key authentication of GraphQL callers, so the audit log can say who changed what.

Why API keys: the callers are internal tools and front-ends' back ends, each of which gets
a key of its own (one subject per key, named in the audit log). The keys come from the
environment or a file, never from code, and are never logged; only their SHA-256 digests
are kept in memory. With no key configured (the demo), every request is "anonymous".

What is protected: GraphQL operations (POST, and GET with a `query`). The GraphiQL page
itself (a GET without `query`) carries no data and stays open, so a developer can load it
and put the key in its headers pane; `/healthz` stays open for load balancers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs

from pydantic import BaseModel, Field, SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resolvers.subject import request_subject

#: Paths whose operations need a key when keys are configured.
PROTECTED_PREFIX: Final = "/graphql"


class AuthSettings(BaseModel):
    """API keys per subject: `C360_AUTH__API_KEYS='{"ops-console": "…"}'` and/or a keys file."""

    api_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="Subject → API key. With none here or in the file, requests are anonymous.")
    api_keys_file: Path | None = Field(
        None, description='A file of "subject key" lines (# comments), e.g. a mounted secret.')


class AuthConfigError(ValueError):
    """The key configuration cannot be used (says which line or subject)."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def read_keys_file(path: Path) -> dict[str, str]:
    """`subject key` per line; blank lines and `#` comments skipped."""
    keys: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AuthConfigError(f"cannot read the API keys file {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split()
        if len(parts) != 2:
            raise AuthConfigError(f"{path}:{number}: expected 'subject key', found {len(parts)} words")
        keys[parts[0]] = parts[1]
    return keys


class ApiKeys:
    """Digest → subject: only the keys' SHA-256 is held in memory."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._subjects: dict[bytes, str] = {}
        for subject, key in keys.items():
            if len(key) < 16:
                raise AuthConfigError(f"the API key of {subject!r} is shorter than 16 characters; use a long random one")
            digest = _digest(key)
            if digest in self._subjects:
                raise AuthConfigError(f"{subject!r} and {self._subjects[digest]!r} have the same API key")
            self._subjects[digest] = subject

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> ApiKeys:
        keys = {subject: key.get_secret_value() for subject, key in settings.api_keys.items()}
        if settings.api_keys_file is not None:
            keys.update(read_keys_file(settings.api_keys_file))
        return cls(keys)

    @property
    def enabled(self) -> bool:
        return bool(self._subjects)

    def subject_for(self, key: str) -> str | None:
        # A lookup by digest: its timing depends on the presented key's hash, not on how much
        # of a real key it shares, so it reveals nothing a constant-time compare would hide.
        return self._subjects.get(_digest(key))


def presented_key(headers: Mapping[bytes, bytes]) -> str | None:
    """`Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    authorization = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    api_key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return api_key or None


def _is_operation(scope: Scope) -> bool:
    if not str(scope.get("path", "")).startswith(PROTECTED_PREFIX):
        return False
    if scope.get("method") != "GET":
        return scope.get("method") != "OPTIONS"
    return "query" in parse_qs(scope.get("query_string", b"").decode("latin-1"))


class AuthMiddleware:
    """Refuses GraphQL operations without a known key (401) and names the caller for the request."""

    def __init__(self, app: ASGIApp, keys: ApiKeys) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys.enabled or not _is_operation(scope):
            await self.app(scope, receive, send)
            return
        key = presented_key(dict(scope["headers"]))
        subject = self.keys.subject_for(key) if key is not None else None
        if subject is None:
            reason = "no API key was sent" if key is None else "the API key is not known"
            await _unauthorized(send, f"{reason}: send 'Authorization: Bearer <key>' (or 'X-API-Key: <key>')")
            return
        token = request_subject.set(subject)
        try:
            await self.app(scope, receive, send)
        finally:
            request_subject.reset(token)


async def _unauthorized(send: Send, message: str) -> None:
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}).encode()
    start: Message = {"type": "http.response.start", "status": 401, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", b'Bearer realm="c360"'),
    ]}
    await send(start)
    await send({"type": "http.response.body", "body": body})
