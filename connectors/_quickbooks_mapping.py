"""QuickBooks Customer/Invoice JSON <-> canonical records, and Fault bodies -> ConnectorError."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from connectors._errors import (
    AuthenticationFailed,
    ConnectorError,
    DuplicateRecord,
    RateLimited,
    RecordNotFound,
    SourceRejected,
    SourceUnavailable,
    VersionConflict,
)
from connectors._record import Address, CustomerStatus, Invoice, PersonName, RecordChanges, SourceRecord, SystemName
from connectors._retry import server_retry_after
from connectors._http import json_body
from connectors._values import parse_datetime, text

QBO = SystemName.QUICKBOOKS
#: QuickBooks may show an inactive customer as "Name (deleted)"; the name itself has no suffix.
_DELETED_SUFFIX = " (deleted)"


def _obj(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A nested object, or an empty one when absent or not an object."""
    value = raw.get(key)
    return value if isinstance(value, Mapping) else {}


def _sub(raw: Mapping[str, Any], key: str, inner: str) -> str | None:
    obj = raw.get(key)
    return text(obj.get(inner)) if isinstance(obj, Mapping) else None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def customer_to_record(raw: Mapping[str, Any], url: str) -> SourceRecord:
    active = raw.get("Active") is not False
    display = text(raw.get("DisplayName"))
    if display and not active and display.endswith(_DELETED_SUFFIX):
        display = display[: -len(_DELETED_SUFFIX)]
    given, family = text(raw.get("GivenName")), text(raw.get("FamilyName"))
    meta = _obj(raw, "MetaData")
    return SourceRecord(
        system=QBO,
        id=str(raw["Id"]),
        version=text(raw.get("SyncToken")),
        updated_at=parse_datetime(meta.get("LastUpdatedTime")),
        name=text(raw.get("CompanyName")) or display,
        person_name=PersonName(given, family) if given or family else None,
        email=_sub(raw, "PrimaryEmailAddr", "Address"),
        phone=_sub(raw, "PrimaryPhone", "FreeFormNumber"),
        address=_address(raw.get("BillAddr")),
        status=CustomerStatus.ACTIVE if active else CustomerStatus.INACTIVE,
        website=_sub(raw, "WebAddr", "URI"),
        url=url,
        balance=_money(raw.get("Balance")) if raw.get("Balance") is not None else None,
        raw=raw,
    )


def _address(addr: Any) -> Address | None:
    if not isinstance(addr, Mapping):
        return None
    extra = [t for t in (text(addr.get(f"Line{n}")) for n in range(2, 6)) if t]
    address = Address(
        line1=text(addr.get("Line1")),
        line2=", ".join(extra) or None,
        city=text(addr.get("City")),
        state=text(addr.get("CountrySubDivisionCode")),
        postal_code=text(addr.get("PostalCode")),
        country=text(addr.get("Country")),
    )
    return None if address.is_empty() else address


def customer_body(changes: RecordChanges, *, creating: bool) -> dict[str, Any]:
    """Customer fields for a create, or for a sparse update (where "" clears a value)."""
    body: dict[str, Any] = {}
    person = changes.person_name
    display = changes.name or (person.full if person else None)
    if display:
        body["DisplayName"] = display
    if changes.name and (person is None or changes.name != person.full):
        body["CompanyName"] = changes.name  # a company, not a person's own name
    if person is not None:
        body["GivenName"] = person.given or ""
        body["FamilyName"] = person.family or ""
    if changes.email is not None:
        body["PrimaryEmailAddr"] = {"Address": changes.email}
    if changes.phone is not None:
        body["PrimaryPhone"] = {"FreeFormNumber": changes.phone}
    if changes.website is not None:
        body["WebAddr"] = {"URI": changes.website}
    if changes.address is not None:
        a = changes.address
        body["BillAddr"] = {"Line1": a.line1 or "", "Line2": a.line2 or "", "City": a.city or "",
                            "CountrySubDivisionCode": a.state or "", "PostalCode": a.postal_code or "",
                            "Country": a.country or ""}
    if changes.status is not None:
        body["Active"] = changes.status is not CustomerStatus.INACTIVE
    if creating:
        body = {k: v for k, v in body.items() if v not in ("", None)}
        for key in ("PrimaryEmailAddr", "PrimaryPhone", "WebAddr", "BillAddr"):
            if key in body:
                body[key] = {k: v for k, v in body[key].items() if v}
                if not body[key]:
                    del body[key]
    return body


def invoice_to_model(raw: Mapping[str, Any], url: str) -> Invoice:
    ref = _obj(raw, "CustomerRef")
    currency = _obj(raw, "CurrencyRef")
    meta = _obj(raw, "MetaData")
    return Invoice(
        system=QBO,
        id=str(raw["Id"]),
        customer_id=str(ref.get("value", "")),
        number=text(raw.get("DocNumber")),
        date=_date(raw.get("TxnDate")),
        due_date=_date(raw.get("DueDate")),
        total=_money(raw.get("TotalAmt")),
        balance=_money(raw.get("Balance")),
        currency=text(currency.get("value")),
        updated_at=parse_datetime(meta.get("LastUpdatedTime")),
        url=url,
    )


def _lower_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def fault_parts(resp: httpx.Response) -> tuple[str | None, str, str | None, str | None]:
    """(code, message, detail, element) of a Fault body; key casing varies on gateway errors."""
    try:
        body = _lower_keys(json_body(resp))
    except ValueError:
        return None, f"HTTP {resp.status_code}", None, None
    fault = body.get("fault") if isinstance(body, Mapping) else None
    errors = fault.get("error") if isinstance(fault, Mapping) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], Mapping):
        return None, f"HTTP {resp.status_code}", None, None
    first = errors[0]
    code = text(first.get("code"))
    if code is not None:
        code = code.lstrip("0") or "0"  # throttling says "003001" in the message, "3001" in code
    return code, text(first.get("message")) or "", text(first.get("detail")), text(first.get("element"))


def translate_error(resp: httpx.Response) -> ConnectorError:
    code, message, detail, element = fault_parts(resp)
    status = resp.status_code
    kw: dict[str, Any] = {
        "status": status,
        "code": code,
        "details": {"intuit_tid": resp.headers.get("intuit_tid"), "detail": detail, "element": element},
    }
    summary = f"{message} ({code})" if code else message
    if status == 429 or code == "3001":
        return RateLimited(QBO, summary, retry_after=server_retry_after(resp), **kw)
    if status in (401, 403) or code in ("3200", "3100"):
        return AuthenticationFailed(QBO, summary, **kw)
    if code == "610":
        return RecordNotFound(QBO, summary, **kw)
    if code == "5010":
        return VersionConflict(QBO, summary, **kw)
    if code == "6240":
        return DuplicateRecord(QBO, summary, **kw)
    if status >= 500 or (code is not None and code.isdigit() and int(code) >= 10000):
        return SourceUnavailable(QBO, summary, **kw)
    return SourceRejected(QBO, summary, **kw)
