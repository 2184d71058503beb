"""Change-tracking state (migration 0004): checkpoints, handled deliveries, own writes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from xref import SyncState, XrefService, alembic_config, create_sessions, upgrade

TABLES = {"sync_checkpoint", "webhook_delivery", "own_write"}


async def test_a_checkpoint_is_stored_replaced_and_read_back_by_a_new_state(service: XrefService) -> None:
    state = SyncState(service.sessions)
    assert await state.checkpoint("quickbooks:cdc") is None

    await state.save_checkpoint("quickbooks:cdc", "quickbooks", "2024-05-20T09:00:00+00:00", details={"synced_at": "x"})
    await state.save_checkpoint("quickbooks:cdc", "quickbooks", "2024-05-20T09:05:00+00:00")

    restarted = SyncState(service.sessions)  # another process, or the same one after a restart
    stored = await restarted.checkpoint("quickbooks:cdc")
    assert stored is not None and stored.cursor == "2024-05-20T09:05:00+00:00" and dict(stored.details) == {}

    expiry = datetime(2030, 1, 1, tzinfo=UTC)
    await state.save_checkpoint("sharepoint:subscription", "sharepoint", "sub-1", expires_at=expiry)
    sub = await restarted.checkpoint("sharepoint:subscription")
    assert sub is not None and sub.expires_at == expiry
    await state.clear_checkpoint("sharepoint:subscription")
    assert await state.checkpoint("sharepoint:subscription") is None


async def test_seen_keys_are_remembered_until_they_expire(service: XrefService) -> None:
    state = SyncState(service.sessions, dedup_ttl_s=60)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    long_key = "sharepoint:Customers:17:" + "x" * 500  # any length: stored hashed

    await state.mark_seen("teamwork", ["a", "b", long_key], now=now)
    await state.mark_seen("teamwork", ["b"], now=now + timedelta(seconds=50))  # refreshed

    assert await state.seen(["a", "b", "c", long_key], now=now + timedelta(seconds=30)) == {"a", "b", long_key}
    assert await state.seen(["a", "b"], now=now + timedelta(seconds=70)) == {"b"}
    assert await state.purge_expired(now=now + timedelta(seconds=70)) == 2  # a and the long key
    assert await state.seen(["b"], now=now + timedelta(seconds=70)) == {"b"}


async def test_own_writes_survive_a_new_state_and_expire(service: XrefService) -> None:
    state = SyncState(service.sessions, own_write_ttl_s=60)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    await state.remember_own_writes([("quickbooks", "58", "4"), ("quickbooks", "58", "4")], now=now)

    restarted = SyncState(service.sessions)
    assert await restarted.is_own_write("quickbooks", "58", "4", now=now + timedelta(seconds=10))
    assert not await restarted.is_own_write("quickbooks", "58", "5", now=now + timedelta(seconds=10))
    assert not await restarted.is_own_write("quickbooks", "58", "4", now=now + timedelta(seconds=61))


def _downgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_the_change_tracking_migration_downgrades_and_upgrades_again(engine: AsyncEngine) -> None:
    await upgrade(engine, "0004")
    async with engine.begin() as connection:
        await connection.run_sync(_downgrade, "0003")
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert not TABLES & tables
    assert "audit_entry" in tables

    await upgrade(engine, "0004")
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert tables >= TABLES
    state = SyncState(create_sessions(engine))
    await state.mark_seen("quickbooks", ["k"])
    assert await state.seen(["k"]) == {"k"}
