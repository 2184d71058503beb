"""With a warm cache, a system that goes down still shows its last known values, flagged stale."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connectors import CacheSettings, SourcesSettings
from tests.gateway.conftest import Stack, start_stack
from tests.gateway.test_end_to_end import WHOLE_VIEW, _multi_system_customer_ids, post


@pytest.fixture(scope="module")
def short_ttl_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Fresh for 0.2 s only, so values are stale (but kept) by the time the outage starts.
    sources = SourcesSettings(cache=CacheSettings(ttl_s=0.2, stale_ttl_s=3600))
    built, servers = start_stack(tmp_path_factory.mktemp("stale"), customers=30, sources=sources)
    yield built
    for server in servers:
        server.stop()


@pytest.mark.slow
def test_quickbooks_down_serves_cached_billing_flagged_stale(short_ttl_stack: Stack) -> None:
    stack = short_ttl_stack
    customer_id = next(_multi_system_customer_ids(stack))
    warm = post(stack.graphql_url, WHOLE_VIEW, {"id": customer_id}).json()
    assert "errors" not in warm and warm["data"]["customer"]["billing"]
    admin = f"{stack.simulator_urls['quickbooks']}/_admin/faults"
    httpx.patch(admin, json={"outage": True}).raise_for_status()
    try:
        # Poll until the fresh TTL has passed: the first answer after that must come from the stale copy.
        for _ in range(100):
            body = post(stack.graphql_url, WHOLE_VIEW, {"id": customer_id}).json()
            if body.get("extensions", {}).get("stale"):
                break
    finally:
        httpx.patch(admin, json={"outage": False}).raise_for_status()

    assert body["data"]["customer"]["billing"] == warm["data"]["customer"]["billing"]
    assert "errors" not in body
    stale = body["extensions"]["stale"]
    assert {entry["system"] for entry in stale} == {"quickbooks"}
    assert all(entry["ageSeconds"] >= 0 for entry in stale)
