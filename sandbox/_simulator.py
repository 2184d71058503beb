"""What every simulator is made of: its routes, its store, and the fault injector around it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from sandbox._faults import ErrorRenderer, FaultInjector, FaultSettings, HeaderHook, admin_routes
from sandbox._store import Store


@dataclass
class Simulator:
    """A ready-to-serve simulator: `app` is the ASGI app, `injector` its fault knobs."""

    name: str
    app: FaultInjector
    store: Store

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
) -> Simulator:
    holder: list[FaultInjector] = []
    inner = Starlette(routes=[*routes, *admin_routes(lambda: holder[0]), *extra_admin_routes])
    injector = FaultInjector(inner, faults or FaultSettings(), render_error, rate_headers=rate_headers)
    holder.append(injector)
    inner.state.injector = injector
    inner.state.store = store
    return Simulator(name=name, app=injector, store=store)
