"""Connector settings: one block of upstream limits shared by all systems, overridable per system."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class UpstreamLimits(BaseModel):
    """How politely and how long we talk to one system (shape borrowed from Apollo Router)."""

    timeout_s: float = Field(10.0, gt=0, description="Read/write timeout of one HTTP request.")
    connect_timeout_s: float = Field(2.0, gt=0, description="TCP connect timeout.")
    max_attempts: int = Field(8, ge=1, description="Attempts of one idempotent call, the first included.")
    backoff_base_s: float = Field(0.1, ge=0, description="First retry delay; doubles each attempt.")
    backoff_max_s: float = Field(10.0, ge=0, description="Cap of one computed retry delay.")
    retry_after_max_s: float = Field(120.0, ge=0, description="Longest Retry-After we agree to wait.")
    retry_deadline_s: float = Field(60.0, gt=0, description="Give up retrying once a call has taken this long.")
    max_connections: int = Field(20, ge=1, description="Connection pool size towards this system.")


class SharePointSettings(BaseModel):
    base_url: str = "https://graph.microsoft.com/v1.0"
    token_url: str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    tenant_id: str = ""
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    scope: str = "https://graph.microsoft.com/.default"
    site_id: str = ""
    list_id: str = "Customers"
    documents_list_id: str = "Documents"
    #: Filtering on non-indexed columns needs this header (source-apis.md 1.3).
    honor_non_indexed_queries: bool = True
    limits: UpstreamLimits | None = None


class TeamworkSettings(BaseModel):
    base_url: str = "https://example.teamwork.com"
    api_key: SecretStr = SecretStr("")
    bearer_token: SecretStr = SecretStr("")
    page_size: int = Field(500, ge=1, le=500)
    limits: UpstreamLimits | None = None


class QuickBooksSettings(BaseModel):
    base_url: str = "https://quickbooks.api.intuit.com"
    token_url: str = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    app_url: str = "https://app.qbo.intuit.com/app"
    realm_id: str = ""
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    refresh_token: SecretStr = SecretStr("")
    #: Where the latest rotated refresh token is kept; Intuit may issue a new one on every refresh.
    token_store: str | None = None
    minorversion: int = 75
    limits: UpstreamLimits | None = None


class SourcesSettings(BaseModel):
    """All connectors: `defaults` applies to every system unless its own `limits` is set."""

    defaults: UpstreamLimits = UpstreamLimits()
    sharepoint: SharePointSettings = SharePointSettings()
    teamwork: TeamworkSettings = TeamworkSettings()
    quickbooks: QuickBooksSettings = QuickBooksSettings()

    def limits_for(self, system: str) -> UpstreamLimits:
        own = getattr(self, system).limits
        return own if own is not None else self.defaults
