"""Structured key=value logs that carry the request id; never tokens or customer payloads."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from connectors import request_id_var

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} {record.levelname} {record.name}: {record.getMessage()}"
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        rid = request_id_var.get()
        if rid and "request_id" not in extras:
            extras["request_id"] = rid
        if extras:
            base += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        if record.exc_info:
            base += "\n" + self.formatException(record.exc_info)
        return base


#: The gateway's loggers: "c360" and each package's module loggers (`logging.getLogger(__name__)`),
#: which otherwise fall to Python's last-resort handler and lose everything below WARNING.
GATEWAY_LOGGERS = ("c360", "gateway", "resolvers", "connectors", "xref")


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record comes, not the one at setup: a CLI run
    under a test runner or a redirect must not leave a handler bound to a closed stream."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    """Our loggers at `level` through one key=value handler; libraries stay at Python's default.

    They still propagate, so a host that configures the root logger (or a test's log capture)
    sees them too; with no root handler, nothing is printed twice.
    """
    handler = StderrHandler()
    handler.setFormatter(KeyValueFormatter())
    for name in GATEWAY_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = True
