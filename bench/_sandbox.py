"""The three simulators in a child process (`c360 sandbox`), so a bench measures its own memory only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import psutil

from bench._child import ChildProcess
from sandbox.runtime import SYSTEMS

#: Loading 100k customers per system takes the simulators ~25 s on the 2-core box; leave ample room.
DEFAULT_START_TIMEOUT_S = 600.0


def free_port(host: str = "127.0.0.1") -> int:
    # Another process could take the port before the child binds it; on a bench box that race is theoretical.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class SandboxProcess(ChildProcess):
    """`python -m gateway.cli sandbox` over `data_dir` on free ports; a context manager that always stops it.

    The child's output goes to `log_path` (not to the bench's stdout, whose last line is the JSON).
    """

    def __init__(
        self,
        data_dir: Path,
        log_path: Path,
        host: str = "127.0.0.1",
        start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
    ) -> None:
        self.data_dir = data_dir
        super().__init__(log_path)
        self.host = host
        self.ports: dict[str, int] = {system: free_port(host) for system in SYSTEMS}
        self.start_timeout_s = start_timeout_s
        self.start_seconds = 0.0

    @property
    def urls(self) -> dict[str, str]:
        return {system: f"http://{self.host}:{port}" for system, port in self.ports.items()}

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _env(self) -> Mapping[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "C360_DATA_DIR": str(self.data_dir),
                "C360_USE_SANDBOX": "true",
                "C360_LOG_LEVEL": "WARNING",
                "C360_SANDBOX__HOST": self.host,
                **{f"C360_SANDBOX__{system.upper()}_PORT": str(port) for system, port in self.ports.items()},
            }
        )
        return env

    def start(self) -> SandboxProcess:
        started = time.perf_counter()
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "sandbox"],
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = round(time.perf_counter() - started, 2)
        return self

    def _wait_until_answering(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout_s
        waiting = dict(self.urls)
        with httpx.Client(timeout=httpx.Timeout(1.0, connect=0.5)) as client:
            while waiting:
                for system, url in list(waiting.items()):
                    try:
                        client.get(url + "/")  # any status means the server is up
                    except httpx.TransportError:
                        continue
                    del waiting[system]
                if not waiting:
                    return
                if self._proc.poll() is not None:
                    raise RuntimeError(
                        f"sandbox exited with code {self._proc.returncode} before answering:\n{self.log_tail()}"
                    )
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"sandbox did not answer on {', '.join(waiting)} within {self.start_timeout_s:.0f}s:\n"
                        f"{self.log_tail()}"
                    )
                time.sleep(0.1)  # poll interval, not a guess at readiness

    def rss_mb(self) -> dict[str, float | None]:
        """Current and peak RSS of the simulator process (peak from /proc VmHWM, Linux only)."""
        if self._proc is None or self._proc.poll() is not None:
            return {"rss_mb": None, "peak_rss_mb": None}
        proc = psutil.Process(self._proc.pid)
        current = round(proc.memory_info().rss / 2**20, 1)
        peak: float | None = None
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass
        return {"rss_mb": current, "peak_rss_mb": peak}
