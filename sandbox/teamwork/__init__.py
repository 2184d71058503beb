"""A local Teamwork.com site (v1 and v3 REST APIs) for companies and projects (source-apis.md 2)."""

from __future__ import annotations


from sandbox._credentials import SandboxCredentials
from sandbox._faults import FaultInjector, FaultSettings
from sandbox._simulator import Simulator, build_simulator
from sandbox._store import Store
from sandbox.teamwork import fidelity
from sandbox.teamwork._http import fault_renderer, rate_headers
from sandbox.teamwork._pages import page_routes
from sandbox.teamwork._records import TeamworkRecords
from sandbox.teamwork._v1 import routes as v1_routes
from sandbox.teamwork._v3 import routes as v3_routes

__all__ = ["create_teamwork_simulator", "fidelity"]


def create_teamwork_simulator(
    store: Store, credentials: SandboxCredentials, faults: FaultSettings | None = None
) -> Simulator:
    """The Teamwork simulator over `store` (shapes in STORAGE.md); `Store(None)` is an empty site."""
    records = TeamworkRecords(store)
    key = credentials.teamwork_api_key
    holder: list[FaultInjector] = []
    simulator = build_simulator(
        "teamwork",
        [*v3_routes(records, key), *v1_routes(records, key), *page_routes(records)],
        store,
        faults if faults is not None else FaultSettings(send_retry_after=fidelity.SEND_RETRY_AFTER),
        fault_renderer(lambda: holder[0]),
        rate_headers=rate_headers,
    )
    holder.append(simulator.injector)
    return simulator

