"""The circuit breaker seen from a client: a dead system stops being called, its fields say so, and it comes back.

Over real HTTP: gateway and simulators on 127.0.0.1, the record cache off so every
query would reach QuickBooks if the breaker let it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from connectors import CacheSettings, ResilienceSettings, SourcesSettings
from tests.gateway.conftest import Stack, start_stack
from tests.gateway.test_end_to_end import WHOLE_VIEW, _multi_system_customer_ids, post

RESET_S = 1.5


@pytest.fixture(scope="module")
def breaker_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    sources = SourcesSettings(
        cache=CacheSettings(enabled=False),
        resilience=ResilienceSettings(failure_threshold=2, reset_timeout_s=RESET_S),
    )
    built, servers = start_stack(tmp_path_factory.mktemp("breaker"), customers=30, sources=sources)
    yield built
    for server in servers:
        server.stop()


def _quickbooks_calls(stack: Stack) -> int:
    stats = httpx.get(f"{stack.simulator_urls['quickbooks']}/_admin/stats").json()
    return sum(n for call, n in (stats.get("calls") or {}).items() if "oauth" not in call and "token" not in call)


def _billing_error(body: dict) -> dict:
    [error] = [e for e in body.get("errors") or [] if e["path"][-1] == "billing"]
    return error["extensions"]


@pytest.mark.slow
def test_breaker_stops_calling_a_dead_system_and_recovers(breaker_stack: Stack) -> None:
    stack = breaker_stack
    customer_ids = list(_multi_system_customer_ids(stack))[:6]
    admin = f"{stack.simulator_urls['quickbooks']}/_admin/faults"
    httpx.patch(admin, json={"outage": True}).raise_for_status()
    try:
        # Two failed queries open the breaker; each still answers every other system's fields.
        for customer_id in customer_ids[:2]:
            body = post(stack.graphql_url, WHOLE_VIEW, {"id": customer_id}).json()
            assert body["data"]["customer"]["billing"] is None
            assert body["data"]["customer"]["crm"] and body["data"]["customer"]["projectManagement"]
            assert _billing_error(body)["code"] == "SOURCE_UNAVAILABLE"

        httpx.delete(f"{stack.simulator_urls['quickbooks']}/_admin/stats").raise_for_status()
        started = time.monotonic()
        for customer_id in customer_ids[2:5]:
            body = post(stack.graphql_url, WHOLE_VIEW, {"id": customer_id}).json()
            ext = _billing_error(body)
            assert ext["code"] == "SOURCE_UNAVAILABLE" and ext["system"] == "quickbooks"
            assert ext["reason"] == "CIRCUIT_OPEN" and 0 < ext["retryAfter"] <= RESET_S
            assert body["data"]["customer"]["crm"]
        assert time.monotonic() - started < RESET_S, "the open breaker must answer at once"
        assert _quickbooks_calls(stack) == 0, "an open breaker must not call the dead system"
    finally:
        httpx.patch(admin, json={"outage": False}).raise_for_status()

    time.sleep(RESET_S + 0.2)  # the breaker lets a probe through after its reset timeout
    for customer_id in customer_ids[4:6]:
        body = post(stack.graphql_url, WHOLE_VIEW, {"id": customer_id}).json()
        assert "errors" not in body, body.get("errors")
        assert body["data"]["customer"]["billing"], "QuickBooks is back: billing resolves again"
    assert _quickbooks_calls(stack) >= 2
