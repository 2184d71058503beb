"""Gateway settings: one `Settings`, built once at startup from the environment and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors import SourcesSettings, SystemName
from gateway.auth import AuthSettings
from resolvers.ownership import ATTRIBUTES as OWNED_ATTRIBUTES
from resolvers.ownership import DEFAULT_OWNERSHIP, DEFAULT_TABLE, Ownership, OwnershipPolicy, unwritable_cells
from resolvers.survivorship import ATTRIBUTES, DEFAULT_RULES, Policy, Rule, Strategy
from resolvers.limits import GraphQLLimits

_PLACEHOLDERS = {"", "changeme", "change-me", "secret", "xxx", "todo"}


class SandboxSettings(BaseModel):
    """Where the local simulators listen when the gateway runs against the sandbox."""

    host: str = "127.0.0.1"
    sharepoint_port: int = 8361
    teamwork_port: int = 8362
    quickbooks_port: int = 8363
    #: Fault knobs per system, e.g. C360_SANDBOX__FAULTS__QUICKBOOKS__LATENCY_MS=50 (see sandbox/_faults.py).
    faults: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def url(self, system: SystemName) -> str:
        port = getattr(self, f"{system.value}_port")
        return f"http://{self.host}:{port}"


class ThresholdOverride(BaseModel):
    link: float
    review: float


class MatchSettings(BaseModel):
    """Matcher thresholds (Fellegi-Sunter log2 scores) and options; see README "Matching"."""

    link: float = Field(10.0, description="Score at or above which two records are linked automatically.")
    review: float = Field(4.0, description="Score at or above which (below `link`) a pair goes to the review queue.")
    #: Overrides per system pair, keyed "quickbooks+sharepoint" (order free; "sharepoint+sharepoint" for duplicates).
    per_system_pair: dict[str, ThresholdOverride] = Field(default_factory=dict)
    one_to_one: bool = Field(False, description="A record links to at most one record of each other system.")
    fit: bool = Field(True, description="Estimate m/u weights from each run's data (EM) instead of the priors.")

    @model_validator(mode="after")
    def _review_below_link(self) -> MatchSettings:
        pairs = {"default": ThresholdOverride(link=self.link, review=self.review), **self.per_system_pair}
        for name, pair in pairs.items():
            if pair.review > pair.link:
                raise ValueError(f"match thresholds {name}: review ({pair.review}) must not exceed link ({pair.link})")
        for name in self.per_system_pair:
            parts = name.split("+")
            if len(parts) != 2 or not all(p in {s.value for s in SystemName} for p in parts):
                raise ValueError(f"match.per_system_pair key {name!r} must be two systems joined by '+'")
        return self


class SurvivorshipRule(BaseModel):
    """How one unified attribute picks its value among the linked records (see resolvers/survivorship.py)."""

    strategy: Literal["source_priority", "most_recent", "most_complete"] = "source_priority"
    #: Systems in order of trust; unlisted systems come after, and the order breaks every tie.
    priority: list[SystemName] = Field(
        default_factory=lambda: [SystemName.QUICKBOOKS, SystemName.SHAREPOINT, SystemName.TEAMWORK]
    )

    def to_rule(self) -> Rule:
        return Rule(strategy=Strategy(self.strategy), priority=tuple(dict.fromkeys(self.priority)))


def _default_survivorship() -> dict[str, SurvivorshipRule]:
    """Name/address: accounting > CRM > projects; email/phone: CRM > accounting > projects."""
    return {
        name: SurvivorshipRule(strategy=rule.strategy.value, priority=list(rule.priority))  # type: ignore[arg-type]
        for name, rule in DEFAULT_RULES.items()
    }


OwnershipValue = Literal["publish", "consume", "ignore"]


def _default_ownership() -> dict[str, dict[str, OwnershipValue]]:
    """CRM publishes contact details and status, accounting the billing name and address (resolvers/ownership.py)."""
    return {
        attribute: {system.value: ownership.value for system, ownership in row.items()}
        for attribute, row in DEFAULT_TABLE.items()
    }


#: Env var names arrive in lower case ("personname"); attributes are matched without case or underscores.
_OWNED_BY_KEY = {name.lower(): name for name in OWNED_ATTRIBUTES}


class OutboxSettings(BaseModel):
    """The worker that applies queued writes (systems that were down, slow or throttling)."""

    enabled: bool = Field(True, description="Run the outbox worker in this gateway process.")
    interval_s: float = Field(1.0, gt=0, description="How often the worker looks for due writes when idle.")
    batch: int = Field(20, ge=1, le=1000, description="Writes claimed per pass.")
    lease_s: float = Field(60.0, gt=0, description="A claimed write is nobody else's for this long (> a try).")
    base_delay_s: float = Field(1.0, gt=0, description="First backoff after a failed try; doubles each try.")
    max_delay_s: float = Field(300.0, gt=0, description="Longest backoff between tries.")
    max_attempts: int = Field(25, ge=1, description="Tries before a write is dead-lettered (`c360 outbox retry`).")


class WebhookSettings(BaseModel):
    """Change notifications from the systems (`POST /webhooks/{system}`); see README "Change events"."""

    enabled: bool = Field(
        False, description="Register at the systems at startup (Graph subscription, Teamwork webhooks, the "
        "QuickBooks simulator's endpoint) and keep the Graph subscription renewed. `c360 demo` turns it on.",
    )
    public_url: str | None = Field(
        None, description="Base URL the systems reach this gateway at (HTTPS in production); default "
        "http://{host}:{port}. Webhooks arrive at {public_url}/webhooks/{system}.",
    )
    queue_size: int = Field(10_000, ge=1, description="Deliveries waiting to be handled; beyond it the gateway "
                            "answers 503 so the system retries later.")
    subscription_minutes: float = Field(
        4230.0, gt=0, le=42_300, description="Lifetime asked for a Graph subscription (lists allow 42,300 min).",
    )
    renew_before_s: float = Field(
        3600.0, gt=0, description="Renew a Graph subscription this long before it expires.",
    )
    retry_s: float = Field(30.0, gt=0, description="Wait before retrying a registration that failed.")
    quickbooks_format: Literal["legacy", "cloudevents"] = Field(
        "legacy", description="Payload the QuickBooks simulator sends (sandbox only; real apps set it at Intuit).",
    )

    def base_url(self, host: str, port: int) -> str:
        return (self.public_url or f"http://{host}:{port}").rstrip("/")


class SyncSettings(BaseModel):
    """Polling of the change feeds (QuickBooks CDC, Graph delta, Teamwork updatedAt scan) behind the webhooks."""

    poll_interval_s: float = Field(
        60.0, ge=0, description="Seconds between polls of each system's change feed; 0 turns polling off.",
    )
    safety_margin_s: float = Field(
        30.0, ge=0, description="Each poll looks this far behind its checkpoint (clock skew, late commits); "
        "changes seen twice are recognised by their dedup keys.",
    )
    dedup_ttl_s: float = Field(
        7 * 86400.0, gt=0, description="How long a handled change is remembered (longer than any redelivery).",
    )
    own_write_ttl_s: float = Field(
        3600.0, gt=0, description="How long a version the gateway wrote is recognised as its own echo.",
    )


class ReconcileSettings(BaseModel):
    """`c360 reconcile`: how repairs are written and how many run summaries are kept (README "Reconciliation")."""

    subject: str = Field("reconcile", min_length=1, max_length=128,
                         description="Who the audit log names for repairs made by `c360 reconcile --fix --apply`.")
    fix_concurrency: int = Field(4, ge=1, le=64, description="Customers repaired at once (each customer's writes "
                                 "run one after another).")
    keep_runs: int = Field(1000, ge=1, description="Run summaries kept; older ones are deleted when a run is stored.")
    chart_runs: int = Field(30, ge=1, le=1000, description="Runs the `--chart` of drift over time shows (newest).")


class Settings(BaseSettings):
    """Everything configurable; env vars are `C360_*`, nested with `__` (C360_SOURCES__QUICKBOOKS__REALM_ID)."""

    model_config = SettingsConfigDict(
        env_prefix="C360_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    env: Literal["local", "production"] = Field("local", description="`production` refuses placeholder secrets.")
    data_dir: Path = Field(Path(".c360"), description="Sandbox data, SQLite xref and token stores.")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL of the xref; default SQLite file in data_dir."
    )
    host: str = "127.0.0.1"
    port: int = 8360
    use_sandbox: bool = Field(
        True, description="Point connectors at the local simulators (credentials from data_dir) instead of `sources`."
    )
    sandbox: SandboxSettings = SandboxSettings()
    sources: SourcesSettings = SourcesSettings()
    phone_region: str = Field("US", description="Default region for phone numbers without a country code.")
    match: MatchSettings = MatchSettings()
    max_page_size: int = Field(100, ge=1, le=1000, description="Largest `first` a client may ask for.")
    xref_cache_ttl_s: float = Field(
        2.0, ge=0, description="How long this gateway keeps index lookups; writes here clear them, others show within it."
    )
    request_deadline_s: float = Field(
        5.0, gt=0, description="A query answers within this; slower systems' fields come back as errors."
    )
    response_cache_ttl_s: float = Field(
        2.0, ge=0, description="Whole answers to repeated queries are reused this long (capped by the index and "
        "record caches; 0 turns it off). Writes here drop them at once; other processes' writes show within it.",
    )
    response_cache_max_entries: int = Field(10_000, ge=1, description="Answers the response cache holds at most.")
    outbox: OutboxSettings = OutboxSettings()
    webhooks: WebhookSettings = WebhookSettings()
    sync: SyncSettings = SyncSettings()
    reconcile: ReconcileSettings = ReconcileSettings()
    auth: AuthSettings = AuthSettings()
    idempotency_ttl_s: float = Field(
        86_400.0, gt=0, description="How long an idempotency key answers retries with its first result."
    )
    graphiql: bool = Field(True, description="Serve GraphiQL on GET /graphql.")
    survivorship: dict[str, SurvivorshipRule] = Field(
        default_factory=_default_survivorship,
        description="Rule per unified attribute (name, email, phone, address, website); unlisted ones keep the default.",
    )
    ownership: dict[str, dict[str, OwnershipValue]] = Field(
        default_factory=_default_ownership,
        description="publish / consume / ignore per attribute and system (a write goes to every linked system that "
        "publishes or consumes the attribute); unlisted cells keep the default.",
    )
    customer_filter_max_pages: int = Field(
        10, ge=1, le=1000, description="Index pages a `customers(filter: {status / hasOpenInvoices})` scan reads at most."
    )
    #: Document limits and caches, e.g. C360_GRAPHQL__MAX_DEPTH=8 (see resolvers/limits.py).
    graphql: GraphQLLimits = GraphQLLimits()
    log_level: str = "INFO"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'c360.sqlite3').resolve()}"

    def survivorship_policy(self) -> Policy:
        """The configured rules over the defaults (an env var that sets one attribute keeps the others)."""
        rules = dict(DEFAULT_RULES)
        rules.update({name: rule.to_rule() for name, rule in self.survivorship.items()})
        return Policy(rules=rules)

    @model_validator(mode="after")
    def _known_survivorship_attributes(self) -> Settings:
        unknown = sorted(set(self.survivorship) - set(ATTRIBUTES))
        if unknown:
            raise ValueError(f"survivorship: unknown attributes {unknown}; known: {', '.join(ATTRIBUTES)}")
        return self

    def ownership_policy(self) -> OwnershipPolicy:
        """The configured cells over the defaults (an env var that sets one system keeps the others)."""
        return DEFAULT_OWNERSHIP.with_overrides({
            attribute: {SystemName(system): Ownership(value) for system, value in row.items()}
            for attribute, row in self.ownership.items()
        })

    @field_validator("ownership", mode="before")
    @classmethod
    def _ownership_spelling(cls, value: Any) -> Any:
        """Attribute names without case or underscores (personName = PERSONNAME = person_name), lower-case values."""
        if not isinstance(value, dict):
            return value
        return {
            _OWNED_BY_KEY.get(str(attribute).replace("_", "").lower(), attribute): (
                {str(system).lower(): v.strip().lower() if isinstance(v, str) else v for system, v in row.items()}
                if isinstance(row, dict) else row
            )
            for attribute, row in value.items()
        }

    @model_validator(mode="after")
    def _known_ownership_cells(self) -> Settings:
        unknown = sorted(set(self.ownership) - set(OWNED_ATTRIBUTES))
        if unknown:
            raise ValueError(f"ownership: unknown attributes {unknown}; known: {', '.join(OWNED_ATTRIBUTES)}")
        systems = {s.value for s in SystemName}
        for attribute, row in self.ownership.items():
            strangers = sorted(set(row) - systems)
            if strangers:
                raise ValueError(
                    f"ownership.{attribute}: unknown systems {strangers}; known: {', '.join(sorted(systems))}"
                )
        policy = self.ownership_policy()
        cells = unwritable_cells(policy.table)
        if cells:
            described = "; ".join(f"{s.value} has no field for {a} (set to {o.value})" for a, s, o in cells)
            raise ValueError(f"ownership: {described}; only ignore fits there")
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.env != "production":
            return self
        if self.use_sandbox:
            raise ValueError("C360_USE_SANDBOX must be false when C360_ENV=production")
        secrets: dict[str, SecretStr] = {
            "sources.sharepoint.client_secret": self.sources.sharepoint.client_secret,
            "sources.quickbooks.client_secret": self.sources.quickbooks.client_secret,
            "sources.quickbooks.refresh_token": self.sources.quickbooks.refresh_token,
        }
        tw = self.sources.teamwork
        if not (tw.api_key.get_secret_value() or tw.bearer_token.get_secret_value()):
            secrets["sources.teamwork.api_key"] = tw.api_key
        if self.webhooks.enabled:
            secrets.update({
                "sources.sharepoint.webhook_client_state": self.sources.sharepoint.webhook_client_state,
                "sources.teamwork.webhook_token": tw.webhook_token,
                "sources.quickbooks.webhook_verifier": self.sources.quickbooks.webhook_verifier,
            })
        bad = [name for name, value in secrets.items() if value.get_secret_value().strip().lower() in _PLACEHOLDERS]
        if bad:
            raise ValueError(f"missing or placeholder secrets in production: {', '.join(bad)}")
        return self
