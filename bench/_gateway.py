"""The gateway as one uvicorn worker in a child process, so the load generator never shares its CPU time."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from bench._child import ChildProcess
from bench._sandbox import free_port

#: The lifespan runs xref migrations and opens three connectors; seconds, not minutes.
DEFAULT_START_TIMEOUT_S = 120.0


def sandbox_env(data_dir: Path, ports: Mapping[str, int], host: str = "127.0.0.1") -> dict[str, str]:
    """Env pointing a `c360` command at the bench's data dir and simulators (match and serve share it)."""
    return {
        "C360_DATA_DIR": str(data_dir),
        "C360_USE_SANDBOX": "true",
        "C360_LOG_LEVEL": "WARNING",
        "C360_SANDBOX__HOST": host,
        **{f"C360_SANDBOX__{system.upper()}_PORT": str(port) for system, port in ports.items()},
    }


class GatewayProcess(ChildProcess):
    """`python -m gateway.cli serve` on a free port; a context manager that always stops it.

    `env` is laid over this process's environment (data dir, simulator ports, cache and
    limit settings). Output goes to `log_path`, not to the bench's stdout.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        host: str = "127.0.0.1",
        start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
    ) -> None:
        self.env = dict(env)
        super().__init__(log_path)
        self.host = host
        self.port = free_port(host)
        self.start_timeout_s = start_timeout_s
        self.start_seconds = 0.0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> GatewayProcess:
        started = time.perf_counter()
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--host", self.host, "--port", str(self.port)],
            env={**os.environ, **self.env, "C360_HOST": self.host, "C360_PORT": str(self.port)},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = round(time.perf_counter() - started, 2)
        return self

    def _wait_until_healthy(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout_s
        last = "no answer"
        with httpx.Client(timeout=httpx.Timeout(2.0, connect=0.5)) as client:
            while True:
                try:
                    resp = client.get(self.url + "/healthz")
                    if resp.status_code == 200:
                        return
                    last = f"HTTP {resp.status_code}: {resp.text[:200]}"
                except httpx.TransportError as exc:
                    last = type(exc).__name__
                if self._proc.poll() is not None:
                    raise RuntimeError(
                        f"gateway exited with code {self._proc.returncode} before it was healthy:\n{self.log_tail()}"
                    )
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"gateway not healthy within {self.start_timeout_s:.0f}s ({last}):\n{self.log_tail()}"
                    )
                time.sleep(0.1)  # poll interval, not a guess at readiness
