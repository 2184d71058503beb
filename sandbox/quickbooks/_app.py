"""Assembling the QuickBooks simulator from its store, credentials and fault settings."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sandbox._credentials import SandboxCredentials
from sandbox._faults import FaultSettings
from sandbox._simulator import Simulator, build_simulator
from sandbox._store import Store
from sandbox._webhooks import RetryPolicy, WebhookSender
from sandbox.quickbooks import fidelity
from sandbox.quickbooks._books import Books
from sandbox.quickbooks._oauth import TokenAuthority, TokenSettings
from sandbox.quickbooks._routes import QboContext, RuntimeConfig, build_routes
from sandbox.quickbooks._webhooks import QuickBooksWebhooks
from sandbox.quickbooks._wire import Clock, company_now, render_fault_for_injector


@dataclass
class QuickBooksSimConfig:
    """Optional knobs beyond the fault settings (all can also be changed under `/_admin`)."""

    tokens: TokenSettings = field(default_factory=TokenSettings)
    batch_rate_limit: bool = False
    clock: Clock = company_now
    seed: int | None = None


def create_quickbooks_simulator(
    store: Store,
    credentials: SandboxCredentials,
    faults: FaultSettings | None = None,
    *,
    config: QuickBooksSimConfig | None = None,
) -> Simulator:
    """A QuickBooks Online v3 company served from `store` (a `Store(None)` is an empty company)."""
    config = config or QuickBooksSimConfig()
    realm_id = credentials.quickbooks_realm_id
    if store.get_meta("realm_id") is None:
        store.set_meta("realm_id", realm_id)
    books = Books(store, config.clock)
    sender = WebhookSender("quickbooks", RetryPolicy(
        attempts=fidelity.WEBHOOK_ATTEMPTS, backoff_s=fidelity.WEBHOOK_BACKOFF_S, timeout_s=fidelity.WEBHOOK_TIMEOUT_S,
    ))
    webhooks = QuickBooksWebhooks(store, sender, realm_id, credentials.quickbooks_webhook_verifier)
    books.listeners.append(webhooks.entity_changed)
    ctx = QboContext(
        books=books,
        tokens=TokenAuthority(store, credentials, config.tokens),
        realm_id=realm_id,
        clock=config.clock,
        config=RuntimeConfig(batch_rate_limit=config.batch_rate_limit),
        rng=random.Random(config.seed),
    )
    routes, admin = build_routes(ctx)
    faults = faults or FaultSettings(send_retry_after=fidelity.SEND_RETRY_AFTER)
    return build_simulator("quickbooks", routes, store, faults, render_fault_for_injector,
                           extra_admin_routes=[*admin, *webhooks.admin_routes()], webhooks=sender)

