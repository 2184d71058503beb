"""The Alembic migrations build exactly the schema the models describe, on both dialects."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from xref import alembic_config, Base, upgrade


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_head_creates_the_schema_of_the_models(engine: AsyncEngine) -> None:
    await upgrade(engine)

    async with engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    assert {
        "customer", "link", "match_run", "decision", "review_item",
        "outbox_operation", "idempotency_key", "audit_entry",
    } <= tables
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_upgrade_twice_is_a_no_op(engine: AsyncEngine) -> None:
    await upgrade(engine)
    await upgrade(engine)

    async with engine.connect() as connection:
        assert await connection.run_sync(_diff) == []


async def test_upgrade_accepts_a_url(database_url: str, engine: AsyncEngine) -> None:
    await upgrade(database_url)

    async with engine.connect() as connection:
        assert await connection.run_sync(_diff) == []


def _downgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_the_write_path_migration_downgrades_and_upgrades_again(engine: AsyncEngine) -> None:
    write_path = {"outbox_operation", "idempotency_key", "audit_entry"}
    await upgrade(engine)

    async with engine.begin() as connection:
        await connection.run_sync(_downgrade, "0002")
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert not write_path & tables
    assert "review_item" in tables

    await upgrade(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
