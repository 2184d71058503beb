"""The throwaway PostgreSQL server of tests/support: loopback only, and gone after stop."""

from __future__ import annotations

import asyncpg
import pytest

from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres


async def test_the_test_server_listens_on_loopback_only(postgres_server: PostgresServer) -> None:
    connection = await asyncpg.connect(postgres_server.dsn())
    try:
        assert await connection.fetchval("SHOW listen_addresses") == "127.0.0.1"
        assert await connection.fetchval("SHOW unix_socket_directories") == str(postgres_server.socket_dir)
    finally:
        await connection.close()


def test_a_stopped_server_leaves_no_directory_behind(postgres_server: PostgresServer) -> None:
    server = PostgresServer.start(postgres_server.bin_dir)
    root = server.root
    assert (root / "data" / "postmaster.pid").exists()

    server.stop()

    assert not root.exists()
    server.stop()  # idempotent
