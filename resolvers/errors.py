"""Where connector failures become GraphQL errors, and everything unexpected is masked.

A failing system nulls only the fields that need it; the error says which system
and why, in `extensions`, so a client can react without parsing messages.
"""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from connectors import (
    AuthenticationFailed,
    CircuitOpen,
    ConnectorError,
    RateLimited,
    RecordNotFound,
    SourceTimeout,
    SourceUnavailable,
)
from connectors import request_id_var

log = logging.getLogger("c360.resolvers")


def error_code(exc: ConnectorError) -> str:
    """The `extensions.code` a client switches on; an open circuit breaker is an outage like any other.

    Which kind of outage it is goes in `extensions.reason` (see `source_error`).
    """
    if isinstance(exc, SourceTimeout):
        return "SOURCE_TIMEOUT"
    if isinstance(exc, RateLimited):
        return "SOURCE_THROTTLED"
    if isinstance(exc, SourceUnavailable):
        return "SOURCE_UNAVAILABLE"
    if isinstance(exc, AuthenticationFailed):
        return "SOURCE_AUTH_FAILED"
    if isinstance(exc, RecordNotFound):
        return "SOURCE_RECORD_NOT_FOUND"
    return "SOURCE_ERROR"


def source_error(exc: ConnectorError) -> GraphQLError:
    """The GraphQL error for a field that could not be resolved because its system failed."""
    extensions: dict[str, object] = {"code": error_code(exc), "system": exc.system.value}
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        extensions["retryAfter"] = exc.retry_after
    if isinstance(exc, CircuitOpen):
        # The gateway stopped calling the system after repeated failures; it probes again in `retryAfter` s.
        extensions["reason"] = "CIRCUIT_OPEN"
        if exc.retry_in is not None:
            extensions["retryAfter"] = round(exc.retry_in, 1)
    return GraphQLError(f"{exc.system.value} is unavailable for this field: {exc.message}", extensions=extensions)


def bad_input(message: str, argument: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", "argument": argument})


def _should_mask(error: GraphQLError) -> bool:
    """Mask anything that did not start life as a deliberate GraphQLError."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskInternalErrors(MaskErrors):
    """Internal exceptions reach the client as INTERNAL with the request id; the log keeps the traceback."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_should_mask, error_message="Internal error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = request_id_var.get()
        log.error(
            "internal error in resolver",
            exc_info=error.original_error,
            extra={"request_id": request_id, "path": error.path},
        )
        return GraphQLError(
            message=self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL", "requestId": request_id},
        )
