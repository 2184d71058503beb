"""What the bench's child processes (simulators, gateway) share: a log file, a tail of it, a clean stop."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import TracebackType
from typing import IO, Self

#: How long a child may take to exit after SIGTERM before it is killed.
STOP_TIMEOUT_S = 15.0


class ChildProcess:
    """A process started by `start()` (in the subclass) that always ends, even when the bench fails."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def log_tail(self, lines: int = 30) -> str:
        """The end of the child's log, to show when it fails to start."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
