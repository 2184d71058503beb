"""What every simulator is made of: its routes, its store, the fault injector around it, its outgoing webhooks."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from sandbox._faults import ADMIN_PREFIX, ErrorRenderer, FaultInjector, FaultSettings, HeaderHook, admin_routes
from sandbox._store import Store
from sandbox._webhooks import WebhookSender, delivery_admin_routes


@dataclass
class Simulator:
    """A ready-to-serve simulator: `app` is the ASGI app, `injector` its fault knobs."""

    name: str
    app: FaultInjector
    store: Store
    #: Its outgoing webhooks (None for a simulator that sends none).
    webhooks: WebhookSender | None = None

    @property
    def injector(self) -> FaultInjector:
        return self.app


def build_simulator(
    name: str,
    routes: Sequence[BaseRoute],
    store: Store,
    faults: FaultSettings | None,
    render_error: ErrorRenderer,
    *,
    rate_headers: HeaderHook | None = None,
    extra_admin_routes: Sequence[BaseRoute] = (),
    webhooks: WebhookSender | None = None,
) -> Simulator:
    holder: list[FaultInjector] = []
    admin = [*admin_routes(lambda: holder[0]), *extra_admin_routes]
    if webhooks is not None:
        admin += delivery_admin_routes(webhooks, ADMIN_PREFIX)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            # Webhook tasks live in the server's loop; stop them before the loop goes away.
            if webhooks is not None:
                await webhooks.aclose()

    inner = Starlette(routes=[*routes, *admin], lifespan=lifespan)
    injector = FaultInjector(inner, faults or FaultSettings(), render_error, rate_headers=rate_headers)
    holder.append(injector)
    inner.state.injector = injector
    inner.state.store = store
    return Simulator(name=name, app=injector, store=store, webhooks=webhooks)
