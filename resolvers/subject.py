"""Who is making the current request, for the audit log: set by the gateway's authentication."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Final

#: The subject of a request nobody authenticated (a gateway without API keys, e.g. the demo).
ANONYMOUS: Final = "anonymous"

request_subject: ContextVar[str] = ContextVar("c360_request_subject", default=ANONYMOUS)


def current_subject() -> str:
    return request_subject.get()
