"""The outbox keeps unconfirmed source writes durably and hands each to one worker at a time, on both dialects."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from xref import (
    Outbox,
    OutboxEntry,
    OutboxError,
    UnknownOutboxEntry,
    backoff_delay,
    create_engine,
    create_sessions,
    upgrade,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
async def outbox(engine: AsyncEngine) -> Outbox:
    await upgrade(engine)
    return Outbox(create_sessions(engine))


async def enqueue(outbox: Outbox, *, now: datetime = T0, **overrides: Any) -> OutboxEntry:
    fields: dict[str, Any] = {
        "mutation_id": "mut-1", "system": "quickbooks", "action": "update",
        "payload": {"changes": {"email": "a@example.com"}}, "customer_id": "cus_1", "record_id": "58",
        "base_version": "3",
    }
    fields.update(overrides)
    return await outbox.enqueue(now=now, **fields)


# -- backoff (pure) -----------------------------------------------------------------------------


def test_backoff_doubles_from_the_base_until_the_cap_without_jitter() -> None:
    delays = [backoff_delay(n, base_s=1.0, cap_s=30.0, jitter=None) for n in range(7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff_delay(100_000, base_s=1.0, cap_s=30.0, jitter=None) == 30.0


def test_backoff_with_full_jitter_stays_between_zero_and_the_ceiling_and_is_reproducible() -> None:
    draws = [backoff_delay(3, base_s=0.5, cap_s=60.0, jitter=random.Random(seed)) for seed in range(200)]
    assert all(0.0 <= d <= 4.0 for d in draws)
    assert len(set(draws)) > 100  # spread out, not one value
    assert draws[:5] == [backoff_delay(3, base_s=0.5, cap_s=60.0, jitter=random.Random(s)) for s in range(5)]


def test_backoff_refuses_negative_inputs() -> None:
    with pytest.raises(ValueError):
        backoff_delay(-1, base_s=1.0, cap_s=30.0, jitter=None)
    with pytest.raises(ValueError):
        backoff_delay(1, base_s=-1.0, cap_s=30.0, jitter=None)


# -- enqueue and claim --------------------------------------------------------------------------


async def test_an_enqueued_operation_is_pending_due_and_keeps_its_payload(outbox: Outbox) -> None:
    payload = {"changes": {"email": "ä@example.com", "address": {"city": "Lyon", "lines": ["1 rue"]}}}
    entry = await enqueue(outbox, payload=payload)

    assert (entry.status, entry.attempts, entry.next_attempt_at, entry.claimed_until) == ("pending", 0, T0, None)
    assert await outbox.get(entry.id) == entry
    assert (await outbox.get(entry.id)).payload == payload  # type: ignore[union-attr]
    assert await outbox.get("no-such-id") is None


async def test_claim_takes_due_operations_oldest_due_first_and_leaves_future_ones(outbox: Outbox) -> None:
    later = await enqueue(outbox, system="teamwork", delay_s=60)
    second = await enqueue(outbox, system="sharepoint", now=at(1))
    first = await enqueue(outbox, system="quickbooks", now=at(-5))

    claimed = await outbox.claim_due(limit=10, lease_s=30, now=at(2))

    assert [e.id for e in claimed] == [first.id, second.id]
    assert all(e.claimed_until == at(32) for e in claimed)
    assert (await outbox.get(later.id)).claimed_until is None  # type: ignore[union-attr]


async def test_claim_respects_the_limit(outbox: Outbox) -> None:
    for n in range(5):
        await enqueue(outbox, record_id=str(n), now=at(n))

    first = await outbox.claim_due(limit=2, lease_s=30, now=at(10))
    rest = await outbox.claim_due(limit=10, lease_s=30, now=at(10))

    assert [e.record_id for e in first] == ["0", "1"]
    assert [e.record_id for e in rest] == ["2", "3", "4"]


async def test_a_claimed_operation_is_claimable_again_only_after_its_lease_expires(outbox: Outbox) -> None:
    entry = await enqueue(outbox)
    assert [e.id for e in await outbox.claim_due(limit=10, lease_s=30, now=T0)] == [entry.id]

    assert await outbox.claim_due(limit=10, lease_s=30, now=at(29)) == []
    again = await outbox.claim_due(limit=10, lease_s=30, now=at(30))

    assert [e.id for e in again] == [entry.id]
    assert again[0].claimed_until == at(60)


async def test_concurrent_claimers_on_separate_sessions_never_get_the_same_operation(outbox: Outbox) -> None:
    entries = [await enqueue(outbox, record_id=str(n), now=at(n)) for n in range(30)]

    batches = await asyncio.gather(*(outbox.claim_due(limit=10, lease_s=30, now=at(60)) for _ in range(5)))

    claimed = [e.id for batch in batches for e in batch]
    assert len(claimed) == len(set(claimed))
    assert set(claimed) == {e.id for e in entries}


async def test_claimers_in_two_gateway_processes_split_the_work(outbox: Outbox, database_url: str) -> None:
    entries = [await enqueue(outbox, record_id=str(n), now=at(n)) for n in range(20)]
    other_engine = create_engine(database_url)  # a second process: its own engine and pool
    try:
        other = Outbox(create_sessions(other_engine))
        rounds = [
            await asyncio.gather(
                outbox.claim_due(limit=3, lease_s=30, now=at(60)), other.claim_due(limit=3, lease_s=30, now=at(60))
            )
            for _ in range(4)
        ]
    finally:
        await other_engine.dispose()

    claimed = [e.id for pair in rounds for batch in pair for e in batch]
    assert len(claimed) == len(set(claimed)) == 20
    assert set(claimed) == {e.id for e in entries}


# -- outcomes of a try --------------------------------------------------------------------------


async def test_reschedule_counts_the_try_records_the_error_releases_the_lease_and_waits(outbox: Outbox) -> None:
    entry = await enqueue(outbox)
    await outbox.claim_due(limit=1, lease_s=30, now=T0)

    rescheduled = await outbox.reschedule(entry.id, "429 from quickbooks", delay_s=20, now=at(1))

    assert (rescheduled.status, rescheduled.attempts, rescheduled.last_error) == ("pending", 1, "429 from quickbooks")
    assert (rescheduled.claimed_until, rescheduled.next_attempt_at) == (None, at(21))
    assert await outbox.claim_due(limit=1, lease_s=30, now=at(20)) == []
    assert [e.id for e in await outbox.claim_due(limit=1, lease_s=30, now=at(21))] == [entry.id]


async def test_a_worker_backs_off_then_dead_letters_after_its_last_try(outbox: Outbox) -> None:
    entry = await enqueue(outbox)
    now, max_attempts = T0, 4
    while True:
        (claimed,) = await outbox.claim_due(limit=1, lease_s=30, now=now)
        if claimed.attempts + 1 >= max_attempts:
            final = await outbox.dead_letter(claimed.id, "still 503", now=now)
            break
        delay = backoff_delay(claimed.attempts, base_s=2.0, cap_s=5.0, jitter=None)
        rescheduled = await outbox.reschedule(claimed.id, "503", delay_s=delay, now=now)
        assert rescheduled.next_attempt_at == now + timedelta(seconds=delay)
        now = rescheduled.next_attempt_at

    assert now == at(2 + 4 + 5)  # 2s, 4s, then capped at 5s
    assert (final.id, final.status, final.attempts, final.last_error) == (entry.id, "dead", 3, "still 503")
    assert await outbox.claim_due(limit=10, lease_s=30, now=at(3600)) == []
    assert await outbox.counts() == {"pending": 0, "applied": 0, "dead": 1}


async def test_an_applied_operation_is_never_claimed_again(outbox: Outbox) -> None:
    entry = await enqueue(outbox)
    await outbox.claim_due(limit=1, lease_s=30, now=T0)

    applied = await outbox.mark_applied(entry.id, now=at(1))

    assert (applied.status, applied.claimed_until) == ("applied", None)
    assert await outbox.claim_due(limit=10, lease_s=30, now=at(3600)) == []


async def test_a_late_failure_does_not_reopen_an_operation_another_worker_applied(outbox: Outbox) -> None:
    entry = await enqueue(outbox)
    await outbox.claim_due(limit=1, lease_s=30, now=T0)  # slow worker; its lease runs out
    await outbox.claim_due(limit=1, lease_s=30, now=at(31))  # second worker
    await outbox.mark_applied(entry.id, now=at(32))

    after_reschedule = await outbox.reschedule(entry.id, "timeout", delay_s=10, now=at(40))
    after_dead_letter = await outbox.dead_letter(entry.id, "gave up", now=at(41))

    assert after_reschedule.status == after_dead_letter.status == "applied"
    assert after_dead_letter.attempts == 0 and after_dead_letter.last_error is None


async def test_operations_on_an_unknown_id_raise(outbox: Outbox) -> None:
    for call in (
        outbox.mark_applied("nope"), outbox.reschedule("nope", "x", 1.0), outbox.dead_letter("nope", "x"),
        outbox.retry("nope"),
    ):
        with pytest.raises(UnknownOutboxEntry):
            await call


# -- operator actions ---------------------------------------------------------------------------


async def test_retry_makes_a_dead_operation_due_now_with_its_attempts_reset(outbox: Outbox) -> None:
    entry = await enqueue(outbox)
    await outbox.reschedule(entry.id, "503", delay_s=5, now=at(1))
    await outbox.dead_letter(entry.id, "400 invalid email", now=at(10))

    revived = await outbox.retry(entry.id, now=at(100))

    assert (revived.status, revived.attempts, revived.next_attempt_at) == ("pending", 0, at(100))
    assert [e.id for e in await outbox.claim_due(limit=1, lease_s=30, now=at(100))] == [entry.id]


async def test_retry_brings_a_waiting_pending_operation_forward(outbox: Outbox) -> None:
    entry = await enqueue(outbox)
    await outbox.reschedule(entry.id, "503", delay_s=600, now=T0)

    revived = await outbox.retry(entry.id, now=at(1))

    assert (revived.attempts, revived.next_attempt_at) == (0, at(1))


async def test_an_applied_operation_cannot_be_retried(outbox: Outbox) -> None:
    entry = await enqueue(outbox)
    await outbox.mark_applied(entry.id)

    with pytest.raises(OutboxError, match="already applied"):
        await outbox.retry(entry.id)
    assert (await outbox.get(entry.id)).status == "applied"  # type: ignore[union-attr]


async def test_drop_deletes_an_operation_and_says_whether_there_was_one(outbox: Outbox) -> None:
    entry = await enqueue(outbox)

    assert await outbox.drop(entry.id) is True
    assert await outbox.drop(entry.id) is False
    assert await outbox.get(entry.id) is None
    assert await outbox.claim_due(limit=10, lease_s=30, now=at(60)) == []


# -- listing ------------------------------------------------------------------------------------


async def test_entries_filter_by_status_customer_and_mutation(outbox: Outbox) -> None:
    a = await enqueue(outbox, customer_id="cus_a", mutation_id="m1", now=at(1))
    b = await enqueue(outbox, customer_id="cus_a", mutation_id="m2", now=at(2))
    c = await enqueue(outbox, customer_id="cus_b", mutation_id="m2", now=at(3))
    create = await enqueue(outbox, customer_id=None, action="create", record_id=None, now=at(4))
    await outbox.dead_letter(b.id, "400")

    ids = lambda entries: [e.id for e in entries]  # noqa: E731
    assert ids(await outbox.entries()) == [a.id, b.id, c.id, create.id]
    assert ids(await outbox.entries(status="pending")) == [a.id, c.id, create.id]
    assert ids(await outbox.entries(status="dead")) == [b.id]
    assert ids(await outbox.entries(customer_id="cus_a")) == [a.id, b.id]
    assert ids(await outbox.entries(status="pending", customer_id="cus_a")) == [a.id]
    assert ids(await outbox.entries(mutation_id="m2")) == [b.id, c.id]
    assert ids(await outbox.entries(limit=2)) == [a.id, b.id]
    with pytest.raises(ValueError):
        await outbox.entries(limit=0)


async def test_pending_for_customer_lists_only_that_customers_pending_operations(outbox: Outbox) -> None:
    qb = await enqueue(outbox, customer_id="cus_a", system="quickbooks", now=at(1))
    tw = await enqueue(outbox, customer_id="cus_a", system="teamwork", now=at(2))
    done = await enqueue(outbox, customer_id="cus_a", system="sharepoint", now=at(3))
    await enqueue(outbox, customer_id="cus_b", now=at(4))
    await outbox.mark_applied(done.id)

    pending = await outbox.pending_for_customer("cus_a")

    assert [(e.id, e.system) for e in pending] == [(qb.id, "quickbooks"), (tw.id, "teamwork")]
    assert await outbox.pending_for_customer("cus_unknown") == []


async def test_counts_report_every_status(outbox: Outbox) -> None:
    assert await outbox.counts() == {"pending": 0, "applied": 0, "dead": 0}
    entries = [await enqueue(outbox, record_id=str(n)) for n in range(4)]
    await outbox.mark_applied(entries[0].id)
    await outbox.dead_letter(entries[1].id, "400")

    assert await outbox.counts() == {"pending": 2, "applied": 1, "dead": 1}


async def test_purge_applied_deletes_only_applied_operations_older_than_the_cutoff(outbox: Outbox) -> None:
    old, recent, pending = [await enqueue(outbox, record_id=str(n)) for n in range(3)]
    await outbox.mark_applied(old.id, now=at(10))
    await outbox.mark_applied(recent.id, now=at(100))

    assert await outbox.purge_applied(older_than=at(50)) == 1

    assert await outbox.get(old.id) is None
    assert await outbox.get(recent.id) is not None
    assert await outbox.get(pending.id) is not None


async def test_operations_survive_a_restart(engine: AsyncEngine, database_url: str) -> None:
    await upgrade(engine)
    entry = await enqueue(Outbox(create_sessions(engine)))
    await engine.dispose()

    restarted = create_engine(database_url)
    try:
        outbox = Outbox(create_sessions(restarted))
        assert await outbox.get(entry.id) == entry
        assert [e.id for e in await outbox.claim_due(limit=10, lease_s=30, now=at(1))] == [entry.id]
    finally:
        await restarted.dispose()


async def test_records_with_pending_names_only_records_with_pending_operations(outbox: Outbox) -> None:
    await enqueue(outbox, system="quickbooks", record_id="58")
    applied = await enqueue(outbox, system="teamwork", record_id="7")
    await outbox.mark_applied(applied.id)
    await enqueue(outbox, system="sharepoint", record_id="58")  # same id, another system
    found = await outbox.records_with_pending([("quickbooks", "58"), ("teamwork", "7"), ("sharepoint", "1")])
    assert found == {("quickbooks", "58")}
    assert await outbox.records_with_pending([]) == set()


async def test_release_hands_a_leased_entry_back_at_once_without_counting_a_try(outbox: Outbox) -> None:
    entry = await enqueue(outbox)
    [claimed] = await outbox.claim_due(10, lease_s=60, now=at(1))
    assert await outbox.claim_due(10, lease_s=60, now=at(2)) == []  # leased
    assert await outbox.release([claimed.id, "no-such-entry"]) == 1
    [again] = await outbox.claim_due(10, lease_s=60, now=at(2))
    assert (again.id, again.attempts) == (entry.id, 0)
    assert await outbox.release([]) == 0
