"""Connector settings: one block of upstream limits shared by all systems, overridable per system."""

from __future__ import annotations

from typing import Literal

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


#: Calls in flight at once per system when `ResilienceSettings.max_concurrent` is None. QuickBooks
#: allows 10 concurrent requests per company (source-apis.md), so we stay a little under it; the
#: others have no documented cap and get room for parallel chunked reads.
DEFAULT_MAX_CONCURRENT: dict[str, int] = {"quickbooks": 8, "teamwork": 10, "sharepoint": 16}
#: Cap for a system missing from the table above.
FALLBACK_MAX_CONCURRENT = 10


class ResilienceSettings(BaseModel):
    """Per-system protection around every connector call (circuit breaker, concurrency cap, deadline).

    Sits above `UpstreamLimits`: those govern one HTTP request and its retries; these govern
    whole connector calls, so a dead or hanging system fails fast instead of tying up a query.
    """

    failure_threshold: int = Field(5, ge=1, description="Consecutive transient failures that open the breaker.")
    reset_timeout_s: float = Field(10.0, gt=0, description="How long the breaker stays open before one probe.")
    count_rate_limited: bool = Field(
        False, description="Whether a RateLimited error (after retries) counts as a breaker failure."
    )
    max_concurrent: int | None = Field(
        None, ge=1, description="Connector calls in flight at once; None takes the per-system default."
    )
    call_timeout_s: float | None = Field(
        None, gt=0, description="Deadline of one connector call (retries included); None: only the request deadline."
    )

    def concurrency_for(self, system: str) -> int:
        """The cap to apply: the configured one, else the system's default from the table."""
        if self.max_concurrent is not None:
            return self.max_concurrent
        return DEFAULT_MAX_CONCURRENT.get(str(system), FALLBACK_MAX_CONCURRENT)


class CacheSettings(BaseModel):
    """The read cache in front of every connector (connectors/_cache.py).

    Entries are kept for `ttl_s + stale_ttl_s`: fresh for the first part, then only
    served when the system fails (stale-if-error).
    """

    enabled: bool = Field(True, description="Cache reads at all (off: every read goes to the systems).")
    backend: Literal["memory", "redis"] = Field("memory", description="memory: per process; redis: shared.")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Used when backend is redis.")
    redis_timeout_s: float = Field(1.0, gt=0, description="Longest wait for one Redis operation; then a miss.")
    ttl_s: float = Field(60.0, gt=0, description="How long a cached value counts as fresh.")
    system_ttl_s: dict[str, float] = Field(
        default_factory=dict, description="Fresh TTL per system name, overriding ttl_s (e.g. quickbooks: 30)."
    )
    negative_ttl_s: float = Field(10.0, ge=0, description="How long 'no such record' is remembered; 0 disables.")
    stale_ttl_s: float = Field(3600.0, ge=0, description="How long past its TTL a value may serve a failing system.")
    namespace: str = Field("c360", min_length=1, description="Key prefix, so several deployments share one Redis.")

    def ttl_for(self, system: str) -> float:
        return self.system_ttl_s.get(str(system), self.ttl_s)


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
    #: Keys asked for in one `$filter` joined by `or` (records by id, documents by customer), so a page
    #: of 100 is one `$batch` per relation. `or` in list-item filters is a "(verify)" item: a tenant that
    #: refuses it (400) switches the connector to one key per sub-request (20 a `$batch`, source-apis.md
    #: 1.8) on the first refusal. 0 or 1: never try `or`.
    or_filter_terms: int = Field(20, ge=0, le=100)
    #: Sent with every Graph subscription and checked on every notification (the only authenticity
    #: check Graph list notifications have; up to 128 characters). Empty: notifications are refused.
    webhook_client_state: SecretStr = SecretStr("")
    limits: UpstreamLimits | None = None
    resilience: ResilienceSettings | None = None


class TeamworkSettings(BaseModel):
    base_url: str = "https://example.teamwork.com"
    api_key: SecretStr = SecretStr("")
    bearer_token: SecretStr = SecretStr("")
    page_size: int = Field(500, ge=1, le=500)
    #: The token of our webhook registrations: Teamwork signs each delivery with it. Empty: deliveries are refused.
    webhook_token: SecretStr = SecretStr("")
    limits: UpstreamLimits | None = None
    resilience: ResilienceSettings | None = None


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
    #: The app's webhook "verifier token" (Intuit developer portal). Empty: deliveries are refused.
    webhook_verifier: SecretStr = SecretStr("")
    limits: UpstreamLimits | None = None
    resilience: ResilienceSettings | None = None


class SourcesSettings(BaseModel):
    """All connectors: `defaults` applies to every system unless its own `limits` is set.

    `resilience` works the same way: it applies to every system unless the system's own
    `resilience` block is set.
    """

    defaults: UpstreamLimits = UpstreamLimits()
    resilience: ResilienceSettings = ResilienceSettings()
    sharepoint: SharePointSettings = SharePointSettings()
    teamwork: TeamworkSettings = TeamworkSettings()
    quickbooks: QuickBooksSettings = QuickBooksSettings()
    cache: CacheSettings = CacheSettings()

    def limits_for(self, system: str) -> UpstreamLimits:
        own = getattr(self, system).limits
        return own if own is not None else self.defaults

    def resilience_for(self, system: str) -> ResilienceSettings:
        own = getattr(self, system).resilience
        return own if own is not None else self.resilience
