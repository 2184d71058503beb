"""A caller-chosen id for a create, so a system that deduplicates retried writes applies it once.

Why a context variable: the id must reach the system connector through the wrappers
around it (read cache, circuit breaker), which only know the `Connector` protocol, whose
`create(changes)` has no room for it. A workflow that may run again after a lost answer
(convertLead) derives a stable id from what it is doing and sets it around the call;
QuickBooks sends it as `requestid` and answers a repeat with the first result.
Systems without such a feature (SharePoint, Teamwork) ignore it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["create_request_id", "current_create_request_id"]

_create_request_id: ContextVar[str | None] = ContextVar("c360_create_request_id", default=None)


@contextlib.contextmanager
def create_request_id(request_id: str) -> Iterator[None]:
    """Creates made inside this block carry `request_id` (where their system honours one)."""
    token = _create_request_id.set(request_id)
    try:
        yield
    finally:
        _create_request_id.reset(token)


def current_create_request_id() -> str | None:
    """The id set by the innermost `create_request_id` block around this call, if any."""
    return _create_request_id.get()
