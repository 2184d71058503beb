"""The simulator's OAuth2 token endpoint and API authentication (source-apis.md 3.1)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox._store import Store


def test_refresh_rotates_the_refresh_token_and_the_old_one_survives_its_grace(qbo: Any) -> None:
    first = qbo.token_call(grant_type="refresh_token", refresh_token=qbo.refresh_token)
    assert first.status_code == 200
    body = first.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["x_refresh_token_expires_in"] == 8726400
    assert body["refresh_token"] != qbo.refresh_token
    again = qbo.token_call(grant_type="refresh_token", refresh_token=qbo.refresh_token)
    assert again.status_code == 200  # still inside the grace period
    qbo.admin("PATCH", "/oauth", {"refresh_grace_s": 0})
    latest = again.json()["refresh_token"]
    assert qbo.token_call(grant_type="refresh_token", refresh_token=latest).status_code == 200
    stale = qbo.token_call(grant_type="refresh_token", refresh_token=latest)
    assert stale.status_code == 400 and stale.json() == {"error": "invalid_grant"}


def test_unknown_refresh_token_and_bad_client_are_refused(qbo: Any) -> None:
    resp = qbo.token_call(grant_type="refresh_token", refresh_token="AB11nope")
    assert resp.status_code == 400 and resp.json() == {"error": "invalid_grant"}
    resp = qbo.http.post("/oauth2/v1/tokens/bearer", auth=("someone", "else"),
                         data={"grant_type": "refresh_token", "refresh_token": qbo.refresh_token})
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"


def test_authorization_code_is_exchanged_once(qbo: Any) -> None:
    code = qbo.admin("POST", "/oauth/code").json()["code"]
    ok = qbo.token_call(grant_type="authorization_code", code=code, redirect_uri="http://localhost/cb")
    assert ok.status_code == 200 and ok.json()["access_token"]
    replay = qbo.token_call(grant_type="authorization_code", code=code, redirect_uri="http://localhost/cb")
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


def test_api_without_valid_token_is_401_fault_3200(qbo: Any) -> None:
    resp = qbo.http.get(f"{qbo.api}/customer/1", headers={"Authorization": "Bearer nonsense"})
    assert resp.status_code == 401
    assert resp.json()["Fault"]["type"] == "AUTHENTICATION"
    error = resp.json()["Fault"]["Error"][0]
    assert error["code"] == "3200"
    assert error["Message"] == "message=AuthenticationFailed; errorCode=003200; statusCode=401"


def test_expiring_access_tokens_forces_a_new_token(qbo: Any) -> None:
    assert qbo.call("GET", "/query", params={"query": "select * from Customer"}).status_code == 200
    qbo.admin("POST", "/oauth/expire")
    assert qbo.call("GET", "/query", params={"query": "select * from Customer"}).status_code == 401


def test_another_realm_is_refused(qbo: Any) -> None:
    resp = qbo.http.get("/v3/company/123/customer/1", headers={"Authorization": f"Bearer {qbo.token()}"})
    assert resp.status_code == 403 and resp.json()["Fault"]["Error"][0]["code"] == "3100"


def test_tokens_survive_a_restart(start_qbo: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "quickbooks.sqlite3"
    before = start_qbo(store=Store(path))
    before.create_customer(DisplayName="Persisted Co")
    access = before.token()
    after = start_qbo(store=Store(path))
    resp = after.http.get(f"{after.api}/query", params={"query": "select * from Customer"},
                          headers={"Authorization": f"Bearer {access}"})
    assert resp.status_code == 200
    assert resp.json()["QueryResponse"]["Customer"][0]["DisplayName"] == "Persisted Co"
    rotated = after.token_call(grant_type="refresh_token", refresh_token=before.refresh_token)
    assert rotated.status_code == 200
