"""The connector rides out throttling and short outages of the simulator (real HTTP, real waits)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from connectors.sharepoint import SharePointConnector
from sandbox._simulator import Simulator


async def test_throttling_storm_still_answers_every_read(
    connector: SharePointConnector, sp_admin: Callable, sp_sim: Simulator
) -> None:
    await connector.fetch("1")  # token in hand before the storm
    sp_admin("PATCH", "/faults", {"rate_limit_per_minute": 10, "rate_window_s": 1})
    singles = [connector.fetch(str(1 + i % 5)) for i in range(15)]
    many = connector.fetch_many(["5", "4", "3", "2", "1", "999"] * 2)
    *records, batch = await asyncio.gather(*singles, many)
    assert [r.id for r in records] == [str(1 + i % 5) for i in range(15)]
    assert [r.id if r else None for r in batch] == ["5", "4", "3", "2", "1", None] * 2
    assert sp_admin("GET", "/stats").json()["total"] > 16  # throttled attempts were retried


async def test_two_second_outage_is_ridden_out_with_default_limits(
    connector: SharePointConnector, sp_admin: Callable
) -> None:
    await connector.fetch("1")
    sp_admin("PATCH", "/faults", {"outage": True, "outage_for_s": 2})
    record = await connector.fetch("2")
    assert record.name == "Amy's Bird Sanctuary"
    assert connector.client.requests_sent > 2


async def test_throttled_batch_sub_requests_are_retried_after_their_retry_after(
    per_key_connector: SharePointConnector, sp_admin: Callable, sp_sim: Simulator
) -> None:
    await per_key_connector.fetch("1")
    sp_admin("PATCH", "/faults", {"rate_limit_per_minute": 3, "rate_window_s": 1})
    records = await per_key_connector.fetch_many(["1", "2", "3", "4", "5"])
    assert [r.id for r in records if r] == ["1", "2", "3", "4", "5"]
    # The batch itself and two sub-requests fit each window, so the rest came in later batches.
    assert sp_sim.injector.calls["POST /v1.0/$batch"] >= 3
