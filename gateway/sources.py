"""Build the connectors from settings: sandbox simulators or real tenants differ only in URLs and credentials."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aiocache.base import BaseCache

from connectors import CachedConnector, Connector, SourcesSettings, SystemName, resilient
from gateway.config import Settings


def sandbox_credentials_path(settings: Settings) -> Path:
    return settings.data_dir / "sandbox" / "credentials.json"


def effective_sources(settings: Settings) -> SourcesSettings:
    """The connector settings in force: the configured tenants, or the local sandbox."""
    if not settings.use_sandbox:
        return settings.sources
    from sandbox._credentials import SandboxCredentials  # the sandbox is only needed in sandbox mode

    credentials = SandboxCredentials.load_or_create(sandbox_credentials_path(settings))
    urls = {system: settings.sandbox.url(system) for system in SystemName}
    return sandbox_sources(urls, credentials, settings)


def sandbox_sources(urls: Mapping[SystemName, str], credentials, settings: Settings) -> SourcesSettings:  # noqa: ANN001
    """Connector settings for simulators served at `urls`, keeping the configured limits."""
    from gateway.sandbox_sources import (
        SandboxCredentialsMissing,
        quickbooks_settings,
        sharepoint_settings,
        teamwork_settings,
        webhook_secret,
    )

    if settings.webhooks.enabled:
        missing = [n for n in ("teamwork_webhook_token", "quickbooks_webhook_verifier") if not webhook_secret(credentials, n)]
        if missing:
            raise SandboxCredentialsMissing(
                f"C360_WEBHOOKS__ENABLED is on but the sandbox credentials have no {', '.join(missing)}: "
                "this sandbox predates simulator webhooks (update it, or turn webhooks off)"
            )

    quickbooks = quickbooks_settings(urls[SystemName.QUICKBOOKS], credentials).model_copy(
        update={"token_store": str(settings.data_dir / "quickbooks-token.json")}
    )
    # Behaviour switches the simulator supports as a tenant would (e.g. `or` in filters) are kept.
    sharepoint = sharepoint_settings(urls[SystemName.SHAREPOINT], credentials).model_copy(
        update={"or_filter_terms": settings.sources.sharepoint.or_filter_terms}
    )
    return settings.sources.model_copy(
        update={
            "sharepoint": sharepoint,
            "teamwork": teamwork_settings(urls[SystemName.TEAMWORK], credentials),
            "quickbooks": quickbooks,
        }
    )


def open_connectors(sources: SourcesSettings) -> dict[SystemName, Connector]:
    from connectors.quickbooks import QuickBooksConnector
    from connectors.sharepoint import SharePointConnector
    from connectors.teamwork import TeamworkConnector

    return {
        SystemName.SHAREPOINT: SharePointConnector(sources.sharepoint, sources.limits_for("sharepoint")),
        SystemName.TEAMWORK: TeamworkConnector(sources.teamwork, sources.limits_for("teamwork")),
        SystemName.QUICKBOOKS: QuickBooksConnector(sources.quickbooks, sources.limits_for("quickbooks")),
    }


def open_gateway_connectors(sources: SourcesSettings, cache: BaseCache | None) -> dict[SystemName, Connector]:
    """The connectors as the read path uses them: cache outside, breaker and limiter inside.

    Cache hits then skip the breaker and the concurrency cap, and a breaker that is
    open reaches the cache's stale-if-error fallback.
    """
    wrapped: dict[SystemName, Connector] = {}
    for system, raw in open_connectors(sources).items():
        guarded: Connector = resilient(raw, sources.resilience_for(system.value))
        wrapped[system] = CachedConnector(guarded, cache, sources.cache) if cache is not None else guarded
    return wrapped


async def close_connectors(connectors: Mapping[SystemName, Connector]) -> None:
    for connector in connectors.values():
        await connector.aclose()
