"""The gateway's ASGI app in-process, for tests that need no simulators."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import cast

import httpx
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from gateway.app import create_app
from gateway.config import Settings
from resolvers import Services
from xref import XrefService

GQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


class _BrokenIndex:
    """An xref whose lookups crash the way a bug would, so resolvers raise something unexpected."""

    async def get(self, customer_id: str) -> None:
        raise RuntimeError(f"index exploded looking up {customer_id}")

    async def list_customers(self, first: int, after: str | None = None) -> None:
        raise RuntimeError("index exploded listing customers")


@contextlib.asynccontextmanager
async def gateway_client(settings: Settings | None = None,
                         services: Services | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the gateway's ASGI app, with its lifespan state handed to every request.

    Without `services`, over an index whose every lookup crashes (for error-path tests).
    """
    services = services or Services(xref=cast(XrefService, _BrokenIndex()), connectors={})
    app: Starlette = create_app(settings or Settings(), services=services)
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            await app({**scope, "state": dict(state or {})}, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://c360") as client:
            yield client
