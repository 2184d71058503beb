"""Graph list-item JSON <-> canonical records, OData literals, and Graph error translation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from connectors._errors import (
    AuthenticationFailed,
    ConnectorError,
    RateLimited,
    RecordNotFound,
    SourceRejected,
    SourceTimeout,
    SourceUnavailable,
    VersionConflict,
)
from connectors._http import throttled, json_body
from connectors._record import Address, CustomerStatus, Document, RecordChanges, SourceRecord, SystemName
from connectors._retry import parse_retry_after
from connectors._values import parse_datetime, text

SYSTEM = SystemName.SHAREPOINT

#: Columns of the Customers list that c360 reads (source-apis.md 1.5).
CUSTOMER_COLUMNS = (
    "Title", "StreetAddress1", "StreetAddress2", "City", "State", "Zip", "EmailPrimary", "Phone", "CustomerStatus",
    "Modified",
)
DOCUMENT_COLUMNS = ("FileLeafRef", "DocumentType", "CustomerLookupId", "Modified")
PREFER_NON_INDEXED = "HonorNonIndexedQueriesWarningMayFailRandomly"

_ADDRESS_COLUMNS = ("StreetAddress1", "StreetAddress2", "City", "State", "Zip")
_STATUSES = {"lead": CustomerStatus.LEAD, "active": CustomerStatus.ACTIVE}
_WEB_URL_ITEM = re.compile(r"^(?P<prefix>.*/)(?P<id>\d+)_\.000$")


def odata_string(value: str) -> str:
    """A single-quoted OData literal; a quote inside is doubled."""
    return "'" + value.replace("'", "''") + "'"


def query_string(params: Mapping[str, str]) -> str:
    # Keep OData punctuation readable (as Graph's own links do); everything else is percent-encoded.
    return urlencode(list(params.items()), quote_via=quote, safe="$,()/'")


def web_url_prefix(web_url: str | None) -> str | None:
    """`https://host/Lists/Customers/` from an item's `https://host/Lists/Customers/17_.000`."""
    match = _WEB_URL_ITEM.match(web_url or "")
    return match.group("prefix") if match else None


def record_from_item(item: Mapping[str, Any], fallback_url: str | None = None) -> SourceRecord:
    """A listItem (or `{"id", "fields"}` built from a fieldValueSet) as a canonical record."""
    fields: Mapping[str, Any] = item.get("fields") or {}
    record_id = text(item.get("id")) or text(fields.get("id")) or ""
    address = Address(
        line1=text(fields.get("StreetAddress1")),
        line2=text(fields.get("StreetAddress2")),
        city=text(fields.get("City")),
        state=text(fields.get("State")),
        postal_code=text(fields.get("Zip")),
        country=None,
    )
    status = text(fields.get("CustomerStatus"))
    return SourceRecord(
        system=SYSTEM,
        id=record_id,
        # The fields eTag is present on every read and on the PATCH answer, so versions always look alike.
        version=text(fields.get("@odata.etag")) or text(item.get("eTag")) or text(item.get("@odata.etag")),
        updated_at=parse_datetime(fields.get("Modified") or item.get("lastModifiedDateTime")),
        name=text(fields.get("Title")),
        person_name=None,
        email=text(fields.get("EmailPrimary")),
        phone=text(fields.get("Phone")),
        address=None if address.is_empty() else address,
        status=_STATUSES.get(status.lower()) if status else None,
        url=text(item.get("webUrl")) or fallback_url,
        raw=item,
    )


def fields_from_changes(changes: RecordChanges, *, creating: bool) -> dict[str, str | None]:
    """Columns to send; on update `None` inside a given address (or "") clears the column."""
    values: dict[str, str | None] = {}
    if changes.name is not None:
        values["Title"] = changes.name
    if changes.email is not None:
        values["EmailPrimary"] = changes.email
    if changes.phone is not None:
        values["Phone"] = changes.phone
    if changes.status is not None:
        values["CustomerStatus"] = changes.status.value
    if changes.address is not None:
        a = changes.address
        for column, value in zip(_ADDRESS_COLUMNS, (a.line1, a.line2, a.city, a.state, a.postal_code), strict=True):
            values[column] = value
    # SharePoint has no columns for person names or websites on this list: those changes are not written.
    if creating:
        return {k: v for k, v in values.items() if v}
    return {k: (v or None) for k, v in values.items()}


def document_from_item(item: Mapping[str, Any], customer_id: str) -> Document:
    fields: Mapping[str, Any] = item.get("fields") or {}
    document_id = text(item.get("id")) or text(fields.get("id")) or ""
    return Document(
        system=SYSTEM,
        id=document_id,
        customer_id=text(fields.get("CustomerLookupId")) or customer_id,
        name=text(fields.get("FileLeafRef")) or text(item.get("name")) or document_id,
        document_type=text(fields.get("DocumentType")),
        url=text(item.get("webUrl")),
        modified=parse_datetime(fields.get("Modified") or item.get("lastModifiedDateTime")),
    )


# --- errors ---------------------------------------------------------------------------------


def _envelope(body: Any) -> tuple[str | None, str]:
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping):
        return text(error.get("code")), text(error.get("message")) or ""
    return None, ""


def error_from_parts(
    status: int, headers: Mapping[str, str], body: Any, response: httpx.Response | None = None
) -> ConnectorError:
    """One Graph answer (a whole response or a $batch sub-response) as a ConnectorError."""
    code, message = _envelope(body)
    described = f"{code or 'HTTP ' + str(status)}: {message}".rstrip(": ")
    kw: dict[str, Any] = {"status": status, "code": code}
    # Graph codes are case-inconsistent (itemNotFound vs ItemNotFound): decide on the HTTP status.
    if status == 404:
        return RecordNotFound(SYSTEM, described, **kw)
    if status == 412:
        return VersionConflict(SYSTEM, described, **kw)
    if status in (401, 403):
        return AuthenticationFailed(SYSTEM, described, **kw)
    if status == 429:
        if response is not None:
            return throttled(SYSTEM, response, described)
        retry_after = next((parse_retry_after(v) for k, v in headers.items() if k.lower() == "retry-after"), None)
        return RateLimited(SYSTEM, described, retry_after=retry_after, **kw)
    if status == 504:
        return SourceTimeout(SYSTEM, described, **kw)
    if status >= 500 or status == 0:
        return SourceUnavailable(SYSTEM, described, **kw)
    return SourceRejected(SYSTEM, described, **kw)


def translate_error(resp: httpx.Response) -> ConnectorError:
    try:
        body = json_body(resp)
    except ValueError:
        body = None
    return error_from_parts(resp.status_code, resp.headers, body, resp)
