"""`POST /v1.0/$batch`: each sub-request runs through the same app, like a normal request (source-apis.md 1.8)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message

from sandbox._faults import FaultInjector, FaultKind
from sandbox.sharepoint import fidelity
from sandbox.sharepoint._wire import GraphError, RequestIds, graph_json, invalid_request, render_fault

_DROPPED_HEADERS = frozenset({"content-length", "date", "server"})


async def _dispatch(app: ASGIApp, outer: Request, method: str, url: str, headers: dict[str, str],
                    body: bytes) -> tuple[int, dict[str, str], bytes]:
    """Run one sub-request through the inner app and collect its answer."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if not path.startswith("/"):
        path = "/" + path
    if not path.startswith(fidelity.GRAPH_PREFIX + "/"):
        path = fidelity.GRAPH_PREFIX + path
    sent = {"host": outer.headers.get("host", "")}
    if (auth := outer.headers.get("authorization")) is not None:
        sent["authorization"] = auth
    sent.update({k.lower(): v for k, v in headers.items()})
    scope = {
        "type": "http",
        "asgi": outer.scope.get("asgi", {"version": "3.0"}),
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": outer.url.scheme,
        "server": outer.scope.get("server"),
        "client": outer.scope.get("client"),
        "root_path": "",
        "path": path,
        "raw_path": quote(path, safe="/,$'()=:").encode(),
        "query_string": parts.query.encode(),
        "headers": [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in sent.items()],
    }
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = 500
    out_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            for key, value in message.get("headers", []):
                name = key.decode("latin-1")
                if name.lower() not in _DROPPED_HEADERS:
                    out_headers[name] = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, out_headers, b"".join(chunks)


def _sub_response(request_id: str, status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {"id": request_id, "status": status, "headers": headers}
    if body:
        try:
            out["body"] = orjson.loads(body)
        except orjson.JSONDecodeError:
            out["body"] = body.decode("utf-8", "replace")
    return out


def _throttled(request_id: str, wait: float, injector: FaultInjector) -> dict[str, Any]:
    response = render_fault(FaultKind.THROTTLE, 429, None)
    headers = {"Content-Type": "application/json"}
    if injector.settings.send_retry_after:
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
    for key in ("request-id", "client-request-id"):
        headers[key] = response.headers[key]
    return _sub_response(request_id, 429, headers, bytes(response.body))


def _validate(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list) or not body["requests"]:
        raise invalid_request("Invalid batch payload: 'requests' must be a non-empty array.")
    requests = body["requests"]
    if len(requests) > fidelity.MAX_BATCH_REQUESTS:
        raise invalid_request(
            f"The number of requests in the batch ({len(requests)}) exceeds the limit of "
            f"{fidelity.MAX_BATCH_REQUESTS}."
        )
    seen: set[str] = set()
    for sub in requests:
        if not isinstance(sub, dict) or not sub.get("id") or not sub.get("method") or not sub.get("url"):
            raise invalid_request("Invalid batch payload: every request needs 'id', 'method' and 'url'.")
        if str(sub["id"]) in seen:
            raise invalid_request(f"Invalid batch payload: request id '{sub['id']}' is not unique.")
        seen.add(str(sub["id"]))
    return requests


async def batch(request: Request) -> Response:
    try:
        payload = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise GraphError(400, "BadRequest", "Unable to read JSON request payload.") from exc
    requests = _validate(payload)
    injector: FaultInjector = request.app.state.injector
    responses: list[dict[str, Any]] = []
    for sub in requests:
        sub_id = str(sub["id"])
        headers = {str(k): str(v) for k, v in (sub.get("headers") or {}).items()}
        has_body = "body" in sub and sub["body"] is not None
        if has_body and not any(k.lower() == "content-type" for k in headers):
            error = invalid_request(f"Write request id : {sub_id} does not contain Content-Type header or body.")
            rendered = error.render(RequestIds.for_request(None))
            responses.append(_sub_response(sub_id, 400, dict(rendered.headers), bytes(rendered.body)))
            continue
        # Each sub-request costs like a request of its own (source-apis.md 1.8).
        wait = injector.take_units(1)
        if wait is not None:
            responses.append(_throttled(sub_id, wait, injector))
            continue
        body = orjson.dumps(sub["body"]) if has_body else b""
        status, out_headers, out_body = await _dispatch(
            request.app, request, str(sub["method"]), str(sub["url"]), headers, body
        )
        responses.append(_sub_response(sub_id, status, out_headers, out_body))
    if fidelity.BATCH_RESPONSES_REVERSED:
        responses.reverse()
    return graph_json({"responses": responses})
