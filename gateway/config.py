"""Gateway settings: one `Settings`, built once at startup from the environment and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors import SourcesSettings, SystemName

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
    graphiql: bool = Field(True, description="Serve GraphiQL on GET /graphql.")
    log_level: str = "INFO"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'c360.sqlite3').resolve()}"

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
        bad = [name for name, value in secrets.items() if value.get_secret_value().strip().lower() in _PLACEHOLDERS]
        if bad:
            raise ValueError(f"missing or placeholder secrets in production: {', '.join(bad)}")
        return self
