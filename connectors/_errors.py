"""One family of connector errors, so callers never see httpx or a vendor's error body."""

from __future__ import annotations

import contextvars

from collections.abc import Mapping
from typing import Any

from connectors._record import SystemName


class ConnectorError(Exception):
    """Base of every error a connector raises."""

    #: Whether the same call may succeed if made again later.
    transient: bool = False

    def __init__(
        self,
        system: SystemName | str,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{system}: {message}")
        self.system = SystemName(system)
        self.message = message
        self.status = status
        self.code = code
        self.details = dict(details or {})


class SourceUnavailable(ConnectorError):
    """The system could not be reached or answered with a server error after retries."""

    transient = True


class SourceTimeout(SourceUnavailable):
    """The system did not answer within the configured timeout."""


class CircuitOpen(SourceUnavailable):
    """The circuit breaker is open: the system failed repeatedly, so we fail fast without calling it.

    A `SourceUnavailable`, so callers that only know the base class (stale-if-error, field
    errors) treat it as an outage; `retry_in` says when the breaker will let a probe through.
    """

    def __init__(self, system: SystemName | str, message: str, *, retry_in: float | None = None, **kw: Any) -> None:
        super().__init__(system, message, **kw)
        self.retry_in = retry_in


class RateLimited(ConnectorError):
    """The system throttled us and retries did not get through."""

    transient = True

    def __init__(self, system: SystemName | str, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(system, message, **kw)
        self.retry_after = retry_after


class AuthenticationFailed(ConnectorError):
    """Credentials were refused (after one token refresh, where the system has one)."""


class RecordNotFound(ConnectorError):
    """The record does not exist (or no longer exists) in the system."""


class VersionConflict(ConnectorError):
    """The concurrency token sent with a write is stale: someone else wrote first."""


class DuplicateRecord(ConnectorError):
    """The system refuses the write because a record with the same unique name exists."""


class SourceRejected(ConnectorError):
    """The system refused the request as invalid (a permanent failure)."""


#: Set by the caller that bounds a call in time (ResilientConnector): the failures the call
#: retried, so a call cut by the deadline can say what the system was doing, not only "too slow".
retried_failures: contextvars.ContextVar[list[ConnectorError] | None] = contextvars.ContextVar(
    "c360_retried_failures", default=None
)
