"""Connectors: the only code that knows each system's wire format and field names."""

from connectors._errors import (
    AuthenticationFailed,
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
from connectors._settings import (
    QuickBooksSettings,
    SharePointSettings,
    SourcesSettings,
    TeamworkSettings,
    UpstreamLimits,
)

__all__ = [
    "Address",
    "AuthenticationFailed",
    "Connector",
    "ConnectorError",
    "CustomerStatus",
    "Document",
    "DuplicateRecord",
    "Invoice",
    "PersonName",
    "Project",
    "QuickBooksSettings",
    "RateLimited",
    "RecordChanges",
    "RecordNotFound",
    "SharePointSettings",
    "SourceClient",
    "SourceRecord",
    "SourceRejected",
    "SourceTimeout",
    "SourceUnavailable",
    "SourcesSettings",
    "SystemName",
    "TeamworkSettings",
    "UpstreamLimits",
    "VersionConflict",
    "request_id_var",
]
