"""A throwaway PostgreSQL server for tests: started from the installed binaries, deleted afterwards.

CI and the dev container run as root, and `initdb` refuses root, so as root the server
runs as Debian's `postgres` system user (via `runuser`) in a directory under /tmp
that user owns. It listens on 127.0.0.1 only, on a free port, with its unix socket
inside the temp directory, so it never collides with a system PostgreSQL.

    with PostgresServer.start() as server:
        url = server.create_database("xref_test")   # postgresql+asyncpg://...
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from tests.support._throwaway import ThrowawayServer, free_port

__all__ = ["PostgresServer", "PostgresUnavailable", "find_postgres_bin"]

#: Role created by initdb; trust auth on loopback, so no password.
SUPERUSER = "c360"
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 15.0
_POLL_INTERVAL_S = 0.05
# Durability is pointless for a throwaway server and fsync makes CREATE DATABASE slow.
_SERVER_SETTINGS = {
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "max_connections": "100",
    "shared_buffers": "32MB",
}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (the only reason a test may skip)."""


def find_postgres_bin() -> Path | None:
    """The directory holding `initdb`, `pg_ctl` and `postgres`: PATH first, then Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path is not None:
        directory = Path(on_path).resolve().parent
        if (directory / "postgres").exists():
            return directory
    candidates = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "initdb").exists()]
    if not candidates:
        return None

    def version(path: Path) -> tuple[int, ...]:
        try:
            return tuple(int(part) for part in path.parent.name.split("."))
        except ValueError:
            return (0,)

    return max(candidates, key=version)



class PostgresServer(ThrowawayServer):
    """One running server; use `start()` (a context manager too) and `stop()`."""

    def __init__(self, bin_dir: Path, root: Path, port: int, run_as: str | None) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data_dir = root / "data"
        self.socket_dir = root / "sock"
        self.log_file = root / "server.log"
        self.host = "127.0.0.1"
        self.port = port
        self.user = SUPERUSER
        self._run_as = run_as
        self._process: subprocess.Popen[bytes] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def start(cls, bin_dir: Path | None = None) -> PostgresServer:
        """Initialise a cluster in a new temp dir and start it; returns once it accepts connections.

        Raises PostgresUnavailable only when no binaries exist; any other failure
        (initdb error, server exits) raises RuntimeError with the server log, so a broken
        setup fails loudly instead of silently skipping.
        """
        bin_dir = bin_dir or find_postgres_bin()
        if bin_dir is None:
            raise PostgresUnavailable(
                "PostgreSQL server binaries not found (no initdb on PATH or under /usr/lib/postgresql/*/bin); "
                "install them with `apt-get install postgresql` (the Makefile does)"
            )
        run_as = cls._server_user()
        # Under /tmp: every parent dir is traversable by the `postgres` user, unlike e.g. /root.
        root = Path(tempfile.mkdtemp(prefix="c360-pg-", dir="/tmp"))
        server = cls(bin_dir, root, free_port(), run_as)
        try:
            server._initdb()
            server._launch()
        except BaseException:
            server.stop()
            raise
        atexit.register(server.stop)
        return server

    @staticmethod
    def _server_user() -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise RuntimeError(
                "running as root but there is no `postgres` system user to run the server as "
                "(Debian's postgresql package creates it)"
            ) from exc
        return "postgres"

    def _command(self, args: Sequence[str]) -> list[str]:
        if self._run_as is None:
            return list(args)
        return ["runuser", "-u", self._run_as, "--", *args]

    def _env(self) -> dict[str, str]:
        return {**os.environ, "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}

    def _initdb(self) -> None:
        self.data_dir.mkdir()
        self.socket_dir.mkdir()
        self.log_file.touch()
        if self._run_as is not None:
            entry = pwd.getpwnam(self._run_as)
            for path in (self.root, self.data_dir, self.socket_dir, self.log_file):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        result = subprocess.run(
            self._command(
                [
                    str(self.bin_dir / "initdb"),
                    "-D", str(self.data_dir),
                    "-U", self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                ]
            ),
            capture_output=True,
            env=self._env(),
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"initdb failed ({result.returncode}):\n{result.stdout.decode(errors='replace')}"
                f"{result.stderr.decode(errors='replace')}"
            )

    def _launch(self) -> None:
        args = [
            str(self.bin_dir / "postgres"),
            "-D", str(self.data_dir),
            "-p", str(self.port),
            "-h", self.host,
            "-k", str(self.socket_dir),
        ]
        for key, value in _SERVER_SETTINGS.items():
            args += ["-c", f"{key}={value}"]
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                self._command(args), stdout=log, stderr=subprocess.STDOUT, env=self._env(), start_new_session=True
            )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        """Poll `pg_isready` until the server accepts connections (no fixed sleep)."""
        assert self._process is not None
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-q", "-h", self.host, "-p", str(self.port), "-U", self.user,
                 "-d", "postgres"],
                env=self._env(),
                check=False,
            )
            if ready.returncode == 0:
                return
            try:
                code = self._process.wait(timeout=_POLL_INTERVAL_S)
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(f"postgres exited with {code} while starting:\n{self.log_tail()}")
        raise RuntimeError(f"postgres did not accept connections within {_START_TIMEOUT_S}s:\n{self.log_tail()}")

    def _postmaster_pid(self) -> int | None:
        try:
            first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
            return int(first)
        except (OSError, IndexError, ValueError):
            return None

    def stop(self) -> None:
        """Shut the server down (fast mode, then immediate) and delete its directory. Idempotent."""
        # Signal the postmaster itself: with runuser in between, our child is runuser.
        pid = self._postmaster_pid() if self._process is not None and self._process.poll() is None else None
        self._stop((signal.SIGINT, signal.SIGQUIT, signal.SIGKILL), _STOP_TIMEOUT_S, pid)

    # -- use -------------------------------------------------------------------------------

    def url(self, database: str = "postgres", driver: str = "asyncpg") -> str:
        """A SQLAlchemy URL for `database` (async driver by default)."""
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """A libpq-style DSN, for asyncpg.connect or psql."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (a random name by default) and return its asyncpg URL."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        result = subprocess.run(
            [str(self.bin_dir / "createdb"), "-h", self.host, "-p", str(self.port), "-U", self.user,
             "-T", "template0", name],
            capture_output=True,
            env=self._env(),
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"createdb {name} failed: {result.stderr.decode(errors='replace')}")
        return self.url(name)
