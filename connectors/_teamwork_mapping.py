"""Teamwork v3 wire shapes <-> canonical records, and Teamwork error bodies -> ConnectorError."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import httpx

from connectors._errors import (
    AuthenticationFailed,
    ConnectorError,
    DuplicateRecord,
    RecordNotFound,
    SourceRejected,
    SourceUnavailable,
)
from connectors._http import throttled, json_body
from connectors._record import Address, CustomerStatus, Project, RecordChanges, SourceRecord, SystemName
from connectors._values import parse_datetime, text

SYSTEM = SystemName.TEAMWORK

# Canonical countries are whatever the systems hold; Teamwork wants ISO alpha-2 on write.
_ALPHA2 = {
    "USA": "US", "UNITED STATES": "US", "UNITED STATES OF AMERICA": "US", "CAN": "CA", "CANADA": "CA",
    "GBR": "GB", "UK": "GB", "UNITED KINGDOM": "GB", "IRL": "IE", "IRELAND": "IE", "AUS": "AU",
    "AUSTRALIA": "AU", "NZL": "NZ", "NEW ZEALAND": "NZ", "DEU": "DE", "GERMANY": "DE", "FRA": "FR",
    "FRANCE": "FR", "MEX": "MX", "MEXICO": "MX",
}


def parse_date(value: Any) -> date | None:
    """v3 dates come as `YYYY-MM-DD` or a full timestamp; v1 as `YYYYMMDD`."""
    raw = text(value)
    if raw is None:
        return None
    for candidate, fmt in ((raw[:10], "%Y-%m-%d"), (raw, "%Y%m%d")):
        try:
            return datetime.strptime(candidate, fmt).date()
        except ValueError:
            continue
    return None


def same_version(a: str | None, b: str | None) -> bool:
    """updatedAt values compared as instants when both parse, else as strings."""
    left, right = parse_datetime(a), parse_datetime(b)
    if left is not None and right is not None:
        return left == right
    return (a or "") == (b or "")


def is_owner(company: Mapping[str, Any]) -> bool:
    return company.get("isOwner") in (True, "true", "1", 1)


def to_record(company: Mapping[str, Any], url: str) -> SourceRecord:
    address = Address(
        line1=text(company.get("addressOne")),
        line2=text(company.get("addressTwo")),
        city=text(company.get("city")),
        state=text(company.get("state")),
        postal_code=text(company.get("zip")),
        country=text(company.get("countryCode")),
    )
    return SourceRecord(
        system=SYSTEM,
        id=str(company["id"]),
        version=text(company.get("updatedAt")),
        updated_at=parse_datetime(company.get("updatedAt")),
        name=text(company.get("name")),
        person_name=None,
        email=text(company.get("emailOne")),
        phone=text(company.get("phone")),
        address=None if address.is_empty() else address,
        status=CustomerStatus.INACTIVE if text(company.get("status")) == "deleted" else None,
        website=text(company.get("website")),
        url=url,
        raw=dict(company),
    )


def country_code(value: str | None) -> str:
    if not value:
        return ""
    cleaned = value.strip()
    if len(cleaned) == 2:
        return cleaned.upper()
    return _ALPHA2.get(cleaned.upper(), cleaned)


def to_company_body(changes: RecordChanges) -> dict[str, Any]:
    """The v3 write body for `changes`; attributes Teamwork has no field for (status, person) are skipped.

    An address is written whole: its empty parts clear the matching fields.
    """
    company: dict[str, Any] = {}
    if changes.name is not None:
        company["name"] = changes.name
    if changes.email is not None:
        company["emailOne"] = changes.email
    if changes.phone is not None:
        company["phone"] = changes.phone
    if changes.website is not None:
        company["website"] = changes.website
    if changes.address is not None:
        a = changes.address
        company.update({
            "addressOne": a.line1 or "", "addressTwo": a.line2 or "", "city": a.city or "",
            "state": a.state or "", "zip": a.postal_code or "",
            "countrycode": country_code(a.country),  # lower-case c on write (source-apis.md 2.3)
        })
    return {"company": company}


def to_project(project: Mapping[str, Any], owners: Mapping[str, Any], base_url: str) -> Project:
    owner = owners.get(str(project.get("ownerId"))) or {}
    owner_name = " ".join(p for p in (text(owner.get("firstName")), text(owner.get("lastName"))) if p)
    return Project(
        system=SYSTEM,
        id=str(project["id"]),
        customer_id=str(project.get("companyId")),
        name=text(project.get("name")) or "",
        status=text(project.get("status")),
        sub_status=text(project.get("subStatus")),
        start_date=parse_date(project.get("startAt")),
        end_date=parse_date(project.get("endAt")),
        owner=owner_name or None,
        updated_at=parse_datetime(project.get("updatedAt")),
        url=f"{base_url}/app/projects/{project['id']}",
    )


def digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


def _message(resp: httpx.Response) -> str:
    try:
        body = json_body(resp)
    except ValueError:
        return resp.reason_phrase or f"HTTP {resp.status_code}"
    if isinstance(body, Mapping):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            return str(errors[0].get("detail") or errors[0].get("title") or resp.reason_phrase)
        if body.get("MESSAGE"):  # v1
            return str(body["MESSAGE"])
    return resp.reason_phrase or f"HTTP {resp.status_code}"


def translate_error(resp: httpx.Response) -> ConnectorError:
    """Teamwork v1/v3 error answers as connector errors (keyed on HTTP status, not body text)."""
    status = resp.status_code
    message = _message(resp)
    if status == 429:
        return throttled(SYSTEM, resp, message)
    if status in (401, 403):
        return AuthenticationFailed(SYSTEM, message, status=status)
    if status == 404:
        return RecordNotFound(SYSTEM, message, status=status)
    if status == 409:
        return DuplicateRecord(SYSTEM, message, status=status)
    if status >= 500:
        return SourceUnavailable(SYSTEM, message, status=status)
    return SourceRejected(SYSTEM, message, status=status)
