"""The ASGI app: GraphQL (and GraphiQL, served from local assets), health, and the lifespan that opens resources."""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError, OperationType, parse
from graphql.error import GraphQLSyntaxError
from graphql.utilities import get_operation_ast
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from connectors import CachedConnector, ReadLog, open_cache, read_log, request_deadline, request_id_var, stale_reads
from gateway.auth import ApiKeys, AuthMiddleware
from gateway.change_events import running_change_events, webhook_endpoint
from gateway.config import Settings
from gateway.matching import engine_settings
from gateway.response_cache import ResponseCache
from gateway.sources import close_connectors, effective_sources, open_gateway_connectors
from gateway.writes import open_writes, running_outbox_worker
from resolvers import Context, Services, build_context
from resolvers.schema import build_schema
from xref import XrefService, create_engine, create_sessions, upgrade

log = logging.getLogger("c360.gateway")

_GRAPHIQL_HTML = resources.files("gateway").joinpath("graphiql.html").read_text(encoding="utf-8")


def _upstream_budget(deadline_s: float) -> float:
    """How much of a request's deadline upstream calls may use: the rest is for building the answer."""
    return max(deadline_s * 0.9, deadline_s - 0.25)


class RequestScopeMiddleware:
    """Per request: an id (the caller's X-Request-Id, or a new one) that logs and upstream calls carry,
    a deadline every upstream call fits into, and a list where the cache notes stale values it served.
    """

    def __init__(self, app: ASGIApp, deadline_s: float | None = None) -> None:
        self.app = app
        self.deadline_s = deadline_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = incoming or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        deadline = time.monotonic() + _upstream_budget(self.deadline_s) if self.deadline_s is not None else None
        deadline_token = request_deadline.set(deadline)
        stale_token = stale_reads.set([])

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            stale_reads.reset(stale_token)
            request_deadline.reset(deadline_token)
            request_id_var.reset(token)


GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
LEGACY_JSON = "application/json"

#: `extensions.code` of a request refused before any GraphQL ran, by HTTP status.
_REFUSAL_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


class HTTPRefusal(HTTPException):
    """An HTTPException that carries response headers (`Allow` on a 405)."""

    def __init__(self, status_code: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code, reason)
        self.headers = headers or {}


def negotiate_media_type(accept: str | None) -> str | None:
    """The response media type an `Accept` header asks for; None if it allows neither JSON type (406).

    No header, `*/*` and `application/*` mean the legacy `application/json`, as the
    GraphQL-over-HTTP spec asks, so clients that predate the new type keep their 200s.
    On equal quality the explicitly named `application/graphql-response+json` wins.
    """
    if accept is None or not accept.strip():
        return LEGACY_JSON
    best: tuple[float, int, str] | None = None
    for part in accept.split(","):
        media, _, params = part.partition(";")
        media = media.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        rank = {GRAPHQL_RESPONSE_JSON: 2, LEGACY_JSON: 1, "application/*": 0, "*/*": 0}.get(media)
        if rank is None or quality <= 0:
            continue
        chosen = GRAPHQL_RESPONSE_JSON if rank == 2 else LEGACY_JSON
        if best is None or (quality, rank) > best[:2]:
            best = (quality, rank, chosen)
    return best[2] if best else None


def _is_request_error(result: ExecutionResult) -> bool:
    """True when the document never executed: parse, validation, limits, variables or operation selection.

    Execution always yields `data` or, when a non-null root field failed, errors that carry a path.
    """
    if isinstance(result, PreExecutionError):
        return True
    return result.data is None and bool(result.errors) and all(e.path is None for e in result.errors or [])


@functools.lru_cache(maxsize=1024)
def operation_type(query: str, operation_name: str | None) -> OperationType | None:
    """Which kind of operation a request runs (None if the document does not say); cached like the parser."""
    try:
        operation = get_operation_ast(parse(query), operation_name)
    except GraphQLSyntaxError:
        return None
    return operation.operation if operation is not None else None


class C360GraphQL(GraphQL[Context, None]):
    """strawberry's ASGI view, completed to follow GraphQL-over-HTTP, with the whole-response cache in front.

    Adds what strawberry leaves out: Accept negotiation (406), the
    `application/graphql-response+json` status codes, 405 with `Allow` for a mutation
    over GET, 415 for a non-JSON body, and refusals as JSON `{"errors": [...]}`.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        cache: ResponseCache | None = getattr(request.state, "response_cache", None)
        cache_key: bytes | None = None
        try:
            if not self.should_render_graphql_ide(self.request_adapter_class(request)):
                media_type = negotiate_media_type(request.headers.get("accept"))
                if media_type is None:
                    raise HTTPException(406, f"Accept {GRAPHQL_RESPONSE_JSON} or {LEGACY_JSON}")
                request.state.graphql_media_type = media_type
                if cache is not None and scope["method"] == "POST" and _json_body(request):
                    # Only a body `parse_http_body` accepts: a stored answer must not skip its 415.
                    cache_key = ResponseCache.key(media_type, await request.body())
                    hit = cache.get(cache_key)
                    if hit is not None:
                        await _send_body(send, hit.status, hit.content_type, hit.body)
                        return
            if cache_key is not None and cache is not None:
                response = await self._run_for_cache(request, cache, cache_key)
            else:
                response = await self.run(request)
        except HTTPException as exc:
            response = self._refusal(request, exc)
        await response(scope, receive, send)

    async def _run_for_cache(self, request: Request, cache: ResponseCache, key: bytes) -> Response:
        """Runs the request, noting what it read; keeps the answer if nothing about it is doubtful."""
        ticket = cache.begin()
        log = ReadLog()
        token = read_log.set(log)
        try:
            response = await self.run(request)
        finally:
            read_log.reset(token)
        if (
            getattr(request.state, "graphql_reusable", False)
            and response.status_code == 200
            and not log.bypassed
            and not response.headers.getlist("set-cookie")
        ):
            cache.put(
                key, bytes(response.body), status=200, content_type=response.headers["content-type"],
                fresh_for_s=log.fresh_until - time.time(), tags=log.keys, ticket=ticket,
            )
        return response

    def _refusal(self, request: Request, exc: HTTPException) -> Response:
        media_type = getattr(request.state, "graphql_media_type", LEGACY_JSON)
        body = {"errors": [{"message": exc.reason, "extensions": {"code": _REFUSAL_CODES.get(exc.status_code, "BAD_REQUEST")}}]}
        headers = exc.headers if isinstance(exc, HTTPRefusal) else {}
        if exc.status_code == 405 and "Allow" not in headers:
            headers = {**headers, "Allow": "GET, POST"}
        return Response(
            self.encode_json(body), status_code=exc.status_code, media_type=f"{media_type}; charset=utf-8", headers=headers
        )

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        return build_context(request.state.services, request, response)

    async def get_sub_response(self, request: Request) -> Response:  # type: ignore[override]
        sub_response = await super().get_sub_response(request)
        # process_result sees only the request; the status it decides travels on this object.
        request.state.graphql_sub_response = sub_response
        sub_response.media_type = getattr(request.state, "graphql_media_type", LEGACY_JSON)
        return sub_response

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(_GRAPHIQL_HTML)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "POST":
            content_type = parse_content_type(request.content_type)[0] if request.content_type else "none"
            if content_type != LEGACY_JSON:
                raise HTTPException(415, f"Send the request body as Content-Type: {LEGACY_JSON} (got {content_type})")
            body = self.parse_json(await request.get_body())
            if not isinstance(body, dict):
                raise HTTPException(400, 'The request body must be a JSON object: {"query": "...", "variables": {...}}')
            query = body.get("query")
        else:
            query = request.query_params.get("query")
        if not isinstance(query, str) or not query.strip():
            raise HTTPException(400, "The request has no `query`: send the GraphQL document as a string in `query`")
        return await super().parse_http_body(request)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        kind = operation_type(request_data.query, request_data.operation_name) if request_data.query else None
        try:
            result = await super().execute_single(
                request=request,
                request_adapter=request_adapter,
                sub_response=sub_response,
                context=context,
                root_value=root_value,
                request_data=request_data,
            )
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError) and request_adapter.method == "GET":
                raise HTTPRefusal(405, "Mutations are only accepted over POST", {"Allow": "POST"}) from exc
            if isinstance(exc.__cause__, CannotGetOperationTypeError):
                # A GraphQL request error (which operation to run), answered like a validation error.
                return PreExecutionError(data=None, errors=[GraphQLError(exc.reason)])
            raise
        cache: ResponseCache | None = getattr(request.state, "response_cache", None)
        if cache is not None and kind is OperationType.MUTATION:
            cache.clear()  # a write may have changed what any cached answer holds
        request.state.graphql_reusable = (
            kind is OperationType.QUERY and not result.errors and not stale_reads.get()
            and not isinstance(result, PreExecutionError)
        )
        return result

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        body = process_result(result)
        served_stale = stale_reads.get()
        if served_stale:
            # Values a failing system could not refresh: the client sees which system and how old.
            body["extensions"] = {
                **(body.get("extensions") or {}),
                "stale": [
                    {"system": str(read.system), "key": read.key, "ageSeconds": round(read.age_s, 1)}
                    for read in served_stale
                ],
            }
        if _is_request_error(result):
            # Nothing executed, so there is no `data` entry at all (GraphQL spec, "Response").
            body.pop("data", None)
            if getattr(request.state, "graphql_media_type", LEGACY_JSON) == GRAPHQL_RESPONSE_JSON:
                internal = any((e.extensions or {}).get("code") == "INTERNAL" for e in result.errors or [])
                request.state.graphql_sub_response.status_code = 500 if internal else 400
        return body

    def encode_json(self, data: object) -> bytes:  # type: ignore[override]
        """orjson: a page of 100 whole views is ~1 MB of JSON, and the stdlib encoder took ~8% of its CPU."""
        try:
            return orjson.dumps(data)
        except TypeError:  # something orjson does not know (an int beyond 64 bits, say)
            return json.dumps(data).encode()

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = Response(
            self.encode_json(response_data),
            status_code=sub_response.status_code or 200,
            media_type=f"{sub_response.media_type or LEGACY_JSON}; charset=utf-8",
        )
        # Headers a resolver set on the sub-response (strawberry's documented way) go out too.
        response.headers.raw.extend(sub_response.headers.raw)
        response.background = sub_response.background
        return response


def _json_body(request: Request) -> bool:
    content_type = request.headers.get("content-type")
    return content_type is not None and parse_content_type(content_type)[0] == LEGACY_JSON


def _settle_heap() -> None:
    """Moves what start-up built (schema, settings, modules) out of the garbage collector's sight.

    Why: a page of 100 whole views allocates ~100k short-lived objects; each full
    collection would otherwise walk every long-lived start-up object too. `gc.freeze`
    is the standard remedy for servers (objects stay alive, they are just not rescanned).
    """
    gc.collect()
    gc.freeze()


async def _send_body(send: Send, status: int, content_type: str, body: bytes) -> None:
    """A stored answer, straight to the socket (no Response object on the hot path)."""
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", content_type.encode("latin-1")), (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})


def open_response_cache(settings: Settings, xref: XrefService, connectors: dict[Any, Any]) -> ResponseCache | None:
    """The whole-response cache when every part it rests on is cached too; else None.

    Its lifetime is capped by the index-lookup TTL (a response must not outlive a lookup
    the gateway would repeat) and it needs the record cache (which tells it what each
    response read and when that goes stale).
    """
    ttl = min(settings.response_cache_ttl_s, settings.xref_cache_ttl_s)
    cached = [c for c in connectors.values() if isinstance(c, CachedConnector)]
    if ttl <= 0 or not connectors or len(cached) != len(connectors):
        return None
    cache = ResponseCache(
        ttl_s=ttl, max_entries=settings.response_cache_max_entries, generation=lambda: xref.generation
    )
    for connector in cached:
        connector.forget_listeners.append(cache.invalidate)
    return cache


def close_response_cache(cache: ResponseCache | None, connectors: dict[Any, Any]) -> None:
    """Unhooks the cache from connectors that outlive this app (services handed in by a caller)."""
    if cache is None:
        return
    for connector in connectors.values():
        if isinstance(connector, CachedConnector) and cache.invalidate in connector.forget_listeners:
            connector.forget_listeners.remove(cache.invalidate)


def create_app(settings: Settings, *, services: Services | None = None) -> Starlette:
    """The gateway. Pass `services` to run over ready-made connectors and xref (tests); else they open here."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if services is not None:
            responses = open_response_cache(settings, services.xref, dict(services.connectors))
            try:
                async with (
                    running_outbox_worker(settings, services.writes, services.connectors),
                    running_change_events(settings, services, settings.sources) as changes,
                ):
                    yield {"services": services, "engine": None, "response_cache": responses, "changes": changes}
            finally:
                close_response_cache(responses, dict(services.connectors))
            return
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.resolved_database_url)
        await upgrade(engine)
        sources = effective_sources(settings)
        cache = open_cache(sources.cache) if sources.cache.enabled else None
        connectors = open_gateway_connectors(sources, cache)
        xref = XrefService(create_sessions(engine), read_cache_ttl_s=settings.xref_cache_ttl_s)
        opened = Services(
            xref=xref,
            connectors=connectors,
            max_page_size=settings.max_page_size,
            engine_settings=engine_settings(settings.match),
            phone_region=settings.phone_region,
            survivorship=settings.survivorship_policy(),
            customer_filter_max_pages=settings.customer_filter_max_pages,
            writes=open_writes(settings, xref, connectors),
        )
        log.info("gateway ready", extra={"systems": ",".join(s.value for s in connectors)})
        try:
            _settle_heap()
            async with (
                running_outbox_worker(settings, opened.writes, connectors),
                running_change_events(settings, opened, sources, use_sandbox=settings.use_sandbox) as changes,
            ):
                yield {
                    "services": opened,
                    "engine": engine,
                    "response_cache": open_response_cache(settings, xref, dict(connectors)),
                    "changes": changes,
                }
        finally:
            await close_connectors(connectors)
            if cache is not None:
                await cache.close()
            await engine.dispose()

    async def healthz(request: Request) -> Response:
        engine = request.state.engine
        checks = {"gateway": "ok"}
        status = 200
        if engine is not None:
            try:
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
                checks["database"] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
                checks["database"] = f"error: {type(exc).__name__}"
                status = 503
        body: dict[str, Any] = {"status": "ok" if status == 200 else "degraded", "checks": checks}
        changes = getattr(request.state, "changes", None)
        if changes is not None:
            # Counts only (README "Change events"): what webhooks and polling have done since start.
            body["changes"] = {**changes.inbox.handled.as_dict(), "queued": changes.inbox.queued}
        return JSONResponse(body, status_code=status)

    async def index(request: Request) -> Response:
        return RedirectResponse("/graphql")

    graphql = C360GraphQL(build_schema(settings.graphql), graphql_ide="graphiql" if settings.graphiql else None)
    app = Starlette(
        routes=[
            Route("/", index),
            Route("/healthz", healthz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/webhooks/{system}", webhook_endpoint, methods=["POST"]),
            Mount("/static", StaticFiles(packages=[("gateway", "static")]), name="static"),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(AuthMiddleware, keys=ApiKeys.from_settings(settings.auth))  # type: ignore[arg-type]
    app.add_middleware(RequestScopeMiddleware, deadline_s=settings.request_deadline_s)  # type: ignore[arg-type]
    return app
