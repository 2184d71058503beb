"""Engine set-up: async drivers from plain URLs, SQLite pragmas for concurrent use, layering of the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import text

from xref import XrefService, create_engine, create_sessions, upgrade
from xref.db import normalize_url


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///x.sqlite3", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///x.sqlite3", "sqlite+aiosqlite"),
        ("postgresql://c360@localhost/xref", "postgresql+asyncpg"),
        ("postgres://c360@localhost/xref", "postgresql+asyncpg"),
    ],
)
def test_plain_urls_get_the_async_driver(url: str, driver: str) -> None:
    assert normalize_url(url).drivername == driver


def test_other_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        normalize_url("mysql://root@localhost/xref")


async def test_sqlite_file_uses_wal_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'xref.sqlite3'}")
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await connection.scalar(text("PRAGMA busy_timeout")) == 5000
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
    finally:
        await engine.dispose()


async def test_in_memory_sqlite_is_one_database_for_every_session() -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        await upgrade(engine)
        assert (await XrefService(create_sessions(engine)).counts())["customers"] == 0
    finally:
        await engine.dispose()


def test_xref_never_imports_graphql_or_gateway_layers() -> None:
    forbidden = ("strawberry", "gateway", "resolvers", "sandbox")
    package = Path(__file__).resolve().parents[2] / "xref"
    offenders = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [alias.name for alias in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )
            offenders += [f"{path.name}: {name}" for name in names if name.split(".")[0] in forbidden]
    assert offenders == []
