"""What the tests' throwaway servers (PostgreSQL, Redis) share: a free port, a log to show, a thorough stop."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayServer:
    """A server in its own temp directory (`root`), logging to `log_file`, gone after `stop()`."""

    root: Path
    log_file: Path
    _process: subprocess.Popen[bytes] | None

    def _stop(self, signals: Sequence[signal.Signals], timeout_s: float, pid: int | None = None) -> None:
        """Send `signals` in turn (to `pid`, else our child) until the server exits; then delete its directory."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            for sig in signals:
                try:
                    os.kill(pid if pid is not None else process.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    process.wait(timeout=timeout_s)
                    break
                except subprocess.TimeoutExpired:
                    continue
        shutil.rmtree(self.root, ignore_errors=True)

    def stop(self) -> None:
        raise NotImplementedError

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
