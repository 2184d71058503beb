"""Graph's wire conventions shared by every endpoint: error envelopes, support ids, eTags, time."""

from __future__ import annotations

import contextvars

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox._json import JSONResponse

from sandbox._faults import FaultKind
from sandbox.sharepoint import fidelity


def utc_now() -> str:
    """Graph timestamps: whole seconds, UTC, `Z`."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RequestIds:
    """The ids Graph puts on every response so support can trace a call."""

    request_id: str
    client_request_id: str

    @classmethod
    def for_request(cls, request: Request | None) -> RequestIds:
        request_id = str(uuid.uuid4())
        client_id = request.headers.get("client-request-id") if request is not None else None
        return cls(request_id, client_id or request_id)

    def apply(self, response: Response) -> Response:
        response.headers["request-id"] = self.request_id
        response.headers["client-request-id"] = self.client_request_id
        return response


class GraphError(Exception):
    """An error answer in the Graph envelope; raised by handlers, rendered by `graph_endpoint`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        inner_code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.inner_code = inner_code
        self.headers = dict(headers or {})

    def render(self, ids: RequestIds) -> Response:
        inner: dict[str, Any] = {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": ids.request_id,
            "client-request-id": ids.client_request_id,
        }
        if self.inner_code:
            inner = {"code": self.inner_code, **inner}
        body = {"error": {"code": self.code, "message": self.message, "innerError": inner}}
        return ids.apply(JSONResponse(body, status_code=self.status, headers=self.headers))


def invalid_request(message: str) -> GraphError:
    return GraphError(400, "invalidRequest", message)


def item_not_found(message: str = "The resource could not be found.") -> GraphError:
    return GraphError(404, "itemNotFound", message)


def render_fault(kind: FaultKind, status: int, retry_after: float | None) -> Response:
    """Fault bodies for `FaultInjector`, shaped as Graph sends them (source-apis.md 1.9, 1.10)."""
    ids = RequestIds.for_request(None)
    if kind is FaultKind.THROTTLE:
        error = GraphError(429, "activityLimitReached", "The request has been throttled", inner_code="throttledRequest")
    elif status == 503:
        headers = {}
        if kind is FaultKind.OUTAGE and fidelity.OUTAGE_RETRY_AFTER_S is not None:
            headers["Retry-After"] = str(fidelity.OUTAGE_RETRY_AFTER_S)
        error = GraphError(503, "serviceNotAvailable", "Service unavailable", headers=headers)
    else:
        error = GraphError(status, "generalException", "An unspecified error has occurred.")
    return error.render(ids)


def graph_json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=dict(headers or {}))


Handler = Callable[[Request], Awaitable[Response]]


#: Base URL of the server answering the current request (the sandbox's stand-in for https://{tenant}.sharepoint.com).
web_root: contextvars.ContextVar[str | None] = contextvars.ContextVar("sharepoint_web_root", default=None)


def graph_endpoint(handler: Handler, authenticate: Callable[[Request], None] | None) -> Handler:
    """Wrap a handler: authenticate, turn `GraphError` into the envelope, stamp the support ids."""

    async def endpoint(request: Request) -> Response:
        ids = RequestIds.for_request(request)
        # The sandbox is also the SharePoint web host, so webUrl links open on this very server.
        web_root.set(str(request.base_url).rstrip("/"))
        try:
            if authenticate is not None:
                authenticate(request)
            response = await handler(request)
        except GraphError as exc:
            return exc.render(ids)
        return ids.apply(response)

    return endpoint


# --- eTags ------------------------------------------------------------------------------------


def item_etag(guid: str, version: int) -> str:
    if fidelity.ITEM_ETAG_BRACED_UPPER:
        return f'"{{{guid.upper()}}},{version}"'
    return fields_etag(guid, version)


def fields_etag(guid: str, version: int) -> str:
    return f'"{guid.lower()},{version}"'


def parse_etag(value: str) -> tuple[str, int] | None:
    """(guid, version) from either eTag shape, with or without quotes or a weak `W/` prefix."""
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"').strip()
    guid, sep, version = text.rpartition(",")
    if not sep:
        return None
    try:
        return guid.strip("{}").lower(), int(version)
    except ValueError:
        return None
