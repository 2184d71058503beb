"""The ASGI app: GraphQL (and GraphiQL, served from local assets), health, and the lifespan that opens resources."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL

from connectors import request_id_var
from gateway.config import Settings
from gateway.matching import engine_settings
from gateway.sources import close_connectors, effective_sources, open_connectors
from resolvers import Context, Services, build_context, schema
from xref import XrefService, create_engine, create_sessions, upgrade

log = logging.getLogger("c360.gateway")

_GRAPHIQL_HTML = resources.files("gateway").joinpath("graphiql.html").read_text(encoding="utf-8")


class RequestIdMiddleware:
    """Gives every request an id (the caller's X-Request-Id, or a new one) that logs and upstream calls carry."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = incoming or uuid.uuid4().hex
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class C360GraphQL(GraphQL[Context, None]):
    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        return build_context(request.state.services, request, response)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(_GRAPHIQL_HTML)


def create_app(settings: Settings, *, services: Services | None = None) -> Starlette:
    """The gateway. Pass `services` to run over ready-made connectors and xref (tests); else they open here."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if services is not None:
            yield {"services": services, "engine": None}
            return
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.resolved_database_url)
        await upgrade(engine)
        connectors = open_connectors(effective_sources(settings))
        opened = Services(
            xref=XrefService(create_sessions(engine)),
            connectors=connectors,
            max_page_size=settings.max_page_size,
            engine_settings=engine_settings(settings.match),
            phone_region=settings.phone_region,
        )
        log.info("gateway ready", extra={"systems": ",".join(s.value for s in connectors)})
        try:
            yield {"services": opened, "engine": engine}
        finally:
            await close_connectors(connectors)
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
        return JSONResponse({"status": "ok" if status == 200 else "degraded", "checks": checks}, status_code=status)

    async def index(request: Request) -> Response:
        return RedirectResponse("/graphql")

    graphql = C360GraphQL(schema, graphql_ide="graphiql" if settings.graphiql else None)
    app = Starlette(
        routes=[
            Route("/", index),
            Route("/healthz", healthz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Mount("/static", StaticFiles(packages=[("gateway", "static")]), name="static"),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(RequestIdMiddleware)  # type: ignore[arg-type]
    return app
