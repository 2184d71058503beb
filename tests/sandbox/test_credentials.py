"""Sandbox credentials: created once per data dir, and upgraded in place when a newer version adds fields."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from sandbox._credentials import SandboxCredentials


def test_new_credentials_carry_the_webhook_secrets(tmp_path: Path) -> None:
    path = tmp_path / "sandbox" / "credentials.json"
    creds = SandboxCredentials.load_or_create(path)
    assert creds.quickbooks_webhook_verifier and creds.teamwork_webhook_token
    assert creds.quickbooks_webhook_verifier != creds.teamwork_webhook_token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SandboxCredentials.load_or_create(path) == creds


def test_an_older_file_gains_the_new_fields_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    old = SandboxCredentials.generate().model_dump()
    del old["quickbooks_webhook_verifier"], old["teamwork_webhook_token"]
    path.write_text(json.dumps(old))
    path.chmod(0o644)

    upgraded = SandboxCredentials.load_or_create(path)
    stored = json.loads(path.read_text())
    assert {k: stored[k] for k in old} == old
    assert stored["quickbooks_webhook_verifier"] == upgraded.quickbooks_webhook_verifier
    assert stored["teamwork_webhook_token"] == upgraded.teamwork_webhook_token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SandboxCredentials.load_or_create(path) == upgraded  # generated once, then kept
    assert [p.name for p in tmp_path.iterdir()] == ["credentials.json"]
