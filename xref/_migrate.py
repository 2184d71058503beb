"""Run the xref Alembic migrations from code (on gateway start and in tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from xref.db import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Any constant; serialises concurrent `upgrade` calls from several gateway processes on PostgreSQL.
_PG_ADVISORY_LOCK_KEY = 0x0C360_0001


def alembic_config() -> Config:
    """An Alembic config pointing at the package's migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _upgrade_sync(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_ADVISORY_LOCK_KEY})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(engine_or_url: AsyncEngine | str | URL, revision: str = "head") -> None:
    """Bring the xref schema to `revision` ("head" by default); a no-op when already there.

    Safe to call from several processes at once on PostgreSQL (an advisory lock makes
    them take turns). An engine passed in is left open; one built from a URL is disposed.
    """
    owned = not isinstance(engine_or_url, AsyncEngine)
    engine = engine_or_url if isinstance(engine_or_url, AsyncEngine) else create_engine(engine_or_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_sync, revision)
    finally:
        if owned:
            await engine.dispose()
