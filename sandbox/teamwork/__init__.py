"""A local Teamwork.com site (v1 and v3 REST APIs) for companies and projects (source-apis.md 2)."""

from __future__ import annotations


from sandbox._credentials import SandboxCredentials
from sandbox._faults import FaultInjector, FaultSettings
from sandbox._simulator import Simulator, build_simulator
from sandbox._store import Store
from sandbox._webhooks import RetryPolicy, WebhookSender
from sandbox.teamwork import fidelity
from sandbox.teamwork._http import fault_renderer, rate_headers
from sandbox.teamwork._pages import page_routes
from sandbox.teamwork._records import TeamworkRecords
from sandbox.teamwork._v1 import routes as v1_routes
from sandbox.teamwork._v3 import routes as v3_routes
from sandbox.teamwork._webhooks import TeamworkWebhooks

__all__ = ["create_teamwork_simulator", "fidelity"]


def create_teamwork_simulator(
    store: Store, credentials: SandboxCredentials, faults: FaultSettings | None = None
) -> Simulator:
    """The Teamwork simulator over `store` (shapes in STORAGE.md); `Store(None)` is an empty site."""
    records = TeamworkRecords(store)
    key = credentials.teamwork_api_key
    sender = WebhookSender(
        "teamwork",
        RetryPolicy(attempts=fidelity.WEBHOOK_ATTEMPTS, backoff_s=fidelity.WEBHOOK_BACKOFF_S,
                    timeout_s=fidelity.WEBHOOK_TIMEOUT_S),
        accepts=lambda status: status == 200,
    )
    webhooks = TeamworkWebhooks(store, sender)
    records.listeners.append(webhooks.record_changed)
    holder: list[FaultInjector] = []
    simulator = build_simulator(
        "teamwork",
        [*v3_routes(records, key), *webhooks.routes(key), *v1_routes(records, key), *page_routes(records)],
        store,
        faults if faults is not None else FaultSettings(send_retry_after=fidelity.SEND_RETRY_AFTER),
        fault_renderer(lambda: holder[0]),
        rate_headers=rate_headers,
        webhooks=sender,
    )
    holder.append(simulator.injector)
    return simulator

