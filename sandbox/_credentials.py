"""Credentials of the local simulators: random per data dir, created on first start.

They live in a file (never in code) so the gateway can be pointed at the sandbox
exactly as it is pointed at a real tenant: by configuration.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from pathlib import Path

from pydantic import BaseModel, Field


def _webhook_secret() -> str:
    return secrets.token_urlsafe(24)


class SandboxCredentials(BaseModel):
    sharepoint_tenant: str
    sharepoint_client_id: str
    sharepoint_client_secret: str
    sharepoint_site_id: str
    teamwork_api_key: str
    quickbooks_client_id: str
    quickbooks_client_secret: str
    quickbooks_realm_id: str
    quickbooks_refresh_token: str
    #: The "verifier token" the Intuit developer portal shows; signs QuickBooks webhooks (`intuit-signature`).
    #: A default so that credentials.json files written before it existed still load (and are then upgraded).
    quickbooks_webhook_verifier: str = Field(default_factory=_webhook_secret)
    #: The token c360 registers its Teamwork webhooks with; signs them (`X-Projects-Signature`).
    teamwork_webhook_token: str = Field(default_factory=_webhook_secret)

    @classmethod
    def generate(cls) -> SandboxCredentials:
        return cls(
            sharepoint_tenant="c360sandbox.onmicrosoft.com",
            sharepoint_client_id=str(uuid.uuid4()),
            sharepoint_client_secret=secrets.token_urlsafe(24),
            sharepoint_site_id=f"c360sandbox.sharepoint.com,{uuid.uuid4()},{uuid.uuid4()}",
            teamwork_api_key=f"twp_{secrets.token_urlsafe(24)}",
            quickbooks_client_id=f"AB{secrets.token_hex(20)}",
            quickbooks_client_secret=secrets.token_urlsafe(30),
            quickbooks_realm_id=str(9130000000000000 + secrets.randbelow(10**15)),
            quickbooks_refresh_token=f"AB11{secrets.token_urlsafe(36)}",
            quickbooks_webhook_verifier=_webhook_secret(),
            teamwork_webhook_token=_webhook_secret(),
        )

    @classmethod
    def load_or_create(cls, path: Path) -> SandboxCredentials:
        """The data dir's credentials; a file from an older version gains the newer fields, kept from then on."""
        if path.exists():
            stored = json.loads(path.read_text())
            creds = cls.model_validate(stored)
            if set(cls.model_fields) - set(stored):
                _write(path, creds)
            return creds
        creds = cls.generate()
        _write(path, creds)
        return creds


def _write(path: Path, creds: SandboxCredentials) -> None:
    """Replace the file atomically, readable by its owner only (it holds secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(creds.model_dump(), fh, indent=2)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
