"""Idempotency keys: one winner per key under concurrency, replay after completion, refusal of reuse, expiry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from xref import (
    Claimed,
    IdempotencyClaimLost,
    IdempotencyStore,
    InProgress,
    Mismatch,
    Replay,
    create_engine,
    create_sessions,
    request_hash,
    upgrade,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
OP = "updateCustomer"
INPUT = {"id": "cus_1", "changes": {"email": "a@example.com"}}
HASH = request_hash(OP, INPUT)
RESULT = {"customer": {"id": "cus_1"}, "outcomes": {"quickbooks": {"status": "APPLIED", "record_id": "58"}}}


@pytest.fixture
async def store(engine: AsyncEngine) -> IdempotencyStore:
    await upgrade(engine)
    return IdempotencyStore(create_sessions(engine))


async def claimed(store: IdempotencyStore, key: str = "k1", **kwargs: object) -> str:
    result = await store.claim(key, OP, HASH, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Claimed), result
    return result.owner


# -- request_hash (pure) ------------------------------------------------------------------------


def test_request_hash_ignores_key_order_but_not_values_or_operation() -> None:
    reordered = {"changes": {"email": "a@example.com"}, "id": "cus_1"}
    assert request_hash(OP, reordered) == HASH
    assert len(HASH) == 64 and int(HASH, 16) >= 0
    assert request_hash(OP, {**INPUT, "id": "cus_2"}) != HASH
    assert request_hash("createCustomer", INPUT) != HASH


def test_request_hash_refuses_values_that_are_not_json() -> None:
    with pytest.raises(TypeError):
        request_hash(OP, {"at": T0})


# -- claiming -----------------------------------------------------------------------------------


async def test_the_first_claim_owns_the_key_and_a_second_sees_it_in_progress(store: IdempotencyStore) -> None:
    await claimed(store)

    assert await store.claim("k1", OP, HASH) == InProgress()


async def test_twenty_concurrent_claims_of_one_key_give_exactly_one_owner(store: IdempotencyStore) -> None:
    results = await asyncio.gather(*(store.claim("k1", OP, HASH) for _ in range(20)))

    assert sum(isinstance(r, Claimed) for r in results) == 1
    assert sum(isinstance(r, InProgress) for r in results) == 19


async def test_concurrent_claims_from_two_gateway_processes_give_one_owner(
    store: IdempotencyStore, database_url: str
) -> None:
    other_engine = create_engine(database_url)
    try:
        other = IdempotencyStore(create_sessions(other_engine))
        results = await asyncio.gather(*(s.claim(f"k{n // 2}", OP, HASH) for n, s in enumerate([store, other] * 10)))
    finally:
        await other_engine.dispose()

    # ten keys, each claimed once by each process
    assert sum(isinstance(r, Claimed) for r in results) == 10
    assert sum(isinstance(r, InProgress) for r in results) == 10


async def test_a_completed_key_replays_its_result_for_the_same_input(store: IdempotencyStore) -> None:
    owner = await claimed(store)
    await store.complete("k1", owner, RESULT)

    reordered_input_hash = request_hash(OP, {"changes": {"email": "a@example.com"}, "id": "cus_1"})
    assert await store.claim("k1", OP, reordered_input_hash) == Replay(RESULT)
    assert await store.claim("k1", OP, HASH) == Replay(RESULT)


async def test_reusing_a_key_with_another_input_or_operation_is_a_mismatch(store: IdempotencyStore) -> None:
    owner = await claimed(store)

    other_input = request_hash(OP, {**INPUT, "id": "cus_2"})
    assert await store.claim("k1", OP, other_input) == Mismatch(operation=OP, request_hash=HASH)
    await store.complete("k1", owner, RESULT)
    assert await store.claim("k1", "createCustomer", HASH) == Mismatch(operation=OP, request_hash=HASH)


async def test_keys_are_independent(store: IdempotencyStore) -> None:
    await claimed(store, "k1")
    await claimed(store, "k2")


async def test_a_key_must_have_one_to_two_hundred_characters(store: IdempotencyStore) -> None:
    await claimed(store, "k" * 200)
    for bad in ("", "k" * 201):
        with pytest.raises(ValueError):
            await store.claim(bad, OP, HASH)


# -- complete and release -----------------------------------------------------------------------


async def test_only_the_owner_can_complete(store: IdempotencyStore) -> None:
    await claimed(store)

    with pytest.raises(IdempotencyClaimLost):
        await store.complete("k1", "not-the-owner", RESULT)
    with pytest.raises(IdempotencyClaimLost):
        await store.complete("never-claimed", "anyone", RESULT)
    assert await store.claim("k1", OP, HASH) == InProgress()


async def test_a_released_key_can_be_claimed_afresh(store: IdempotencyStore) -> None:
    owner = await claimed(store)

    assert await store.release("k1", "not-the-owner") is False
    assert await store.claim("k1", OP, HASH) == InProgress()
    assert await store.release("k1", owner) is True

    new_owner = await claimed(store)
    assert new_owner != owner


async def test_a_completed_key_cannot_be_released(store: IdempotencyStore) -> None:
    owner = await claimed(store)
    await store.complete("k1", owner, RESULT)

    assert await store.release("k1", owner) is False
    assert await store.claim("k1", OP, HASH) == Replay(RESULT)


async def test_a_null_result_replays_as_none(store: IdempotencyStore) -> None:
    owner = await claimed(store)
    await store.complete("k1", owner, None)

    assert await store.claim("k1", OP, HASH) == Replay(None)


# -- expiry -------------------------------------------------------------------------------------


async def test_a_completed_key_expires_after_its_ttl_and_is_then_claimable(engine: AsyncEngine) -> None:
    await upgrade(engine)
    store = IdempotencyStore(create_sessions(engine), ttl_s=60)
    owner = await claimed(store, now=T0)
    await store.complete("k1", owner, RESULT, now=T0 + timedelta(seconds=1))

    assert await store.claim("k1", OP, HASH, now=T0 + timedelta(seconds=61)) == Replay(RESULT)
    reclaimed = await store.claim("k1", OP, request_hash(OP, {"other": 1}), now=T0 + timedelta(seconds=62))
    assert isinstance(reclaimed, Claimed)  # expired: absent, so even another input may take it


async def test_an_abandoned_claim_lapses_and_its_first_owner_can_no_longer_complete(engine: AsyncEngine) -> None:
    await upgrade(engine)
    store = IdempotencyStore(create_sessions(engine), ttl_s=3600, in_progress_ttl_s=30)
    crashed = await claimed(store, now=T0)

    assert await store.claim("k1", OP, HASH, now=T0 + timedelta(seconds=30)) == InProgress()
    retry_owner = await claimed(store, now=T0 + timedelta(seconds=31))

    with pytest.raises(IdempotencyClaimLost):
        await store.complete("k1", crashed, {"late": True}, now=T0 + timedelta(seconds=32))
    await store.complete("k1", retry_owner, RESULT, now=T0 + timedelta(seconds=33))
    assert await store.claim("k1", OP, HASH, now=T0 + timedelta(seconds=34)) == Replay(RESULT)


async def test_concurrent_claims_of_an_expired_key_still_give_one_owner(engine: AsyncEngine) -> None:
    await upgrade(engine)
    store = IdempotencyStore(create_sessions(engine), ttl_s=60)
    owner = await claimed(store, now=T0)
    await store.complete("k1", owner, RESULT, now=T0)

    later = T0 + timedelta(seconds=120)
    results = await asyncio.gather(*(store.claim("k1", OP, HASH, now=later) for _ in range(10)))

    assert sum(isinstance(r, Claimed) for r in results) == 1
    assert sum(isinstance(r, InProgress) for r in results) == 9


async def test_purge_expired_deletes_only_expired_keys(engine: AsyncEngine) -> None:
    await upgrade(engine)
    store = IdempotencyStore(create_sessions(engine), ttl_s=60, in_progress_ttl_s=10)
    old = await claimed(store, "old", now=T0)
    await store.complete("old", old, RESULT, now=T0)  # expires T0+60
    await claimed(store, "abandoned", now=T0)  # expires T0+10
    fresh = await claimed(store, "fresh", now=T0 + timedelta(seconds=50))
    await store.complete("fresh", fresh, RESULT, now=T0 + timedelta(seconds=50))  # expires T0+110

    assert await store.purge_expired(now=T0 + timedelta(seconds=100)) == 2
    assert await store.claim("fresh", OP, HASH, now=T0 + timedelta(seconds=100)) == Replay(RESULT)


# -- waiting for the winner ---------------------------------------------------------------------


async def test_the_loser_of_a_race_waits_for_the_winners_result(store: IdempotencyStore) -> None:
    owner = await claimed(store)
    assert await store.claim("k1", OP, HASH) == InProgress()
    waiting = asyncio.create_task(store.wait_for("k1", timeout_s=30, poll_s=0.01))

    await store.complete("k1", owner, RESULT)

    assert await asyncio.wait_for(waiting, timeout=30) == Replay(RESULT)


async def test_waiting_gives_up_in_progress_when_the_timeout_passes(store: IdempotencyStore) -> None:
    await claimed(store)

    assert await store.wait_for("k1", timeout_s=0, poll_s=0.01) == InProgress()


async def test_waiting_ends_at_once_when_the_holder_releases_the_key(store: IdempotencyStore) -> None:
    owner = await claimed(store)
    waiting = asyncio.create_task(store.wait_for("k1", timeout_s=300, poll_s=0.01))

    await store.release("k1", owner)

    # Far below the 300 s timeout: the waiter noticed the key was gone.
    assert await asyncio.wait_for(waiting, timeout=30) == InProgress()
    assert isinstance(await store.claim("k1", OP, HASH), Claimed)


# -- durability ---------------------------------------------------------------------------------


async def test_keys_survive_a_restart(engine: AsyncEngine, database_url: str) -> None:
    await upgrade(engine)
    store = IdempotencyStore(create_sessions(engine))
    done_owner = await claimed(store, "done")
    await store.complete("done", done_owner, RESULT)
    await claimed(store, "running")
    await engine.dispose()

    restarted = create_engine(database_url)
    try:
        store = IdempotencyStore(create_sessions(restarted))
        assert await store.claim("done", OP, HASH) == Replay(RESULT)
        assert await store.claim("running", OP, HASH) == InProgress()
    finally:
        await restarted.dispose()
