"""A throwaway Redis server for tests: started from the installed `redis-server`, deleted afterwards.

It listens on 127.0.0.1 only, on a free port, with no persistence (`--save ''`, no
appendonly) and its working directory in a temp dir, so it never touches a system
Redis or leaves files behind.

    with RedisServer.start() as server:
        url = server.url()          # redis://127.0.0.1:PORT/0
"""

from __future__ import annotations

import atexit
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support._throwaway import ThrowawayServer, free_port

__all__ = ["RedisServer", "RedisUnavailable", "find_redis_server"]

_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 10.0
_POLL_INTERVAL_S = 0.02


class RedisUnavailable(RuntimeError):
    """No `redis-server` binary on this machine (the only reason a test may skip)."""


def find_redis_server() -> Path | None:
    found = shutil.which("redis-server")
    return Path(found) if found else None



def _ping(host: str, port: int) -> bool:
    """One inline PING over a raw socket: no client library needed to know the server is up."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer(ThrowawayServer):
    """One running server; use `start()` (a context manager too) and `stop()`."""

    def __init__(self, binary: Path, root: Path, port: int) -> None:
        self.binary = binary
        self.root = root
        self.log_file = root / "redis.log"
        self.host = "127.0.0.1"
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, binary: Path | None = None) -> RedisServer:
        """Start a server and return once it answers PING.

        Raises RedisUnavailable only when the binary is missing; a server that exits or
        never answers raises RuntimeError with its log, so a broken setup fails loudly.
        """
        binary = binary or find_redis_server()
        if binary is None:
            raise RedisUnavailable(
                "redis-server not found on PATH; install it with `apt-get install redis-server` (`make test` does)"
            )
        root = Path(tempfile.mkdtemp(prefix="c360-redis-"))
        server = cls(binary, root, free_port())
        try:
            server._launch()
        except BaseException:
            server.stop()
            raise
        atexit.register(server.stop)
        return server

    def _launch(self) -> None:
        args = [
            str(self.binary),
            "--bind", self.host,
            "--port", str(self.port),
            "--dir", str(self.root),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", str(self.log_file),
        ]
        self._process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        """Poll PING until the server answers (no fixed sleep); fail if it exits first."""
        assert self._process is not None
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if _ping(self.host, self.port):
                return
            try:
                code = self._process.wait(timeout=_POLL_INTERVAL_S)
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(f"redis-server exited with {code} while starting:\n{self.log_tail()}")
        raise RuntimeError(f"redis-server did not answer PING within {_START_TIMEOUT_S}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL) and delete its directory. Idempotent."""
        self._stop((signal.SIGTERM, signal.SIGKILL), _STOP_TIMEOUT_S)

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"
