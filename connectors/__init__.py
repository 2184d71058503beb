"""Connectors: the only code that knows each system's wire format and field names."""

from connectors._breaker import BreakerState, CircuitBreaker
from connectors._cache import CachedConnector, CacheStats, ReadLog, StaleRead, open_cache, read_log, stale_reads
from connectors._create_ids import create_request_id, current_create_request_id
from connectors._errors import (
    AuthenticationFailed,
    CircuitOpen,
    ConnectorError,
    DuplicateRecord,
    RateLimited,
    RecordNotFound,
    SourceRejected,
    SourceTimeout,
    SourceUnavailable,
    VersionConflict,
)
from connectors._http import SourceClient, request_id_var
from connectors._protocol import Connector
from connectors._record import (
    Address,
    CustomerStatus,
    Document,
    Invoice,
    PersonName,
    Project,
    RecordChanges,
    SourceRecord,
    SystemName,
)
from connectors._resilience import ResilientConnector, request_deadline, resilient
from connectors._settings import (
    CacheSettings,
    DEFAULT_MAX_CONCURRENT,
    QuickBooksSettings,
    ResilienceSettings,
    SharePointSettings,
    SourcesSettings,
    TeamworkSettings,
    UpstreamLimits,
)
from connectors._write_limits import FieldLimit, write_limits

__all__ = [
    "DEFAULT_MAX_CONCURRENT",
    "Address",
    "AuthenticationFailed",
    "BreakerState",
    "CacheSettings",
    "CacheStats",
    "CachedConnector",
    "CircuitBreaker",
    "CircuitOpen",
    "Connector",
    "ConnectorError",
    "CustomerStatus",
    "Document",
    "DuplicateRecord",
    "FieldLimit",
    "Invoice",
    "PersonName",
    "Project",
    "QuickBooksSettings",
    "RateLimited",
    "RecordChanges",
    "RecordNotFound",
    "ReadLog",
    "ResilienceSettings",
    "ResilientConnector",
    "SharePointSettings",
    "SourceClient",
    "SourceRecord",
    "SourceRejected",
    "SourceTimeout",
    "SourceUnavailable",
    "SourcesSettings",
    "StaleRead",
    "SystemName",
    "TeamworkSettings",
    "UpstreamLimits",
    "VersionConflict",
    "create_request_id",
    "current_create_request_id",
    "open_cache",
    "read_log",
    "request_deadline",
    "request_id_var",
    "resilient",
    "stale_reads",
    "write_limits",
]
