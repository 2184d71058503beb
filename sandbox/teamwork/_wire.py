"""Stored records (v3 shapes, STORAGE.md) to v1/v3 wire shapes, and write bodies back to stored keys."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sandbox.teamwork import fidelity

#: Stored company keys a client may write, with their empty value.
TEXT_FIELDS: tuple[str, ...] = (
    "name", "addressOne", "addressTwo", "city", "state", "zip", "countryCode",
    "phone", "fax", "website", "emailOne", "emailTwo", "emailThree", "cid",
)

#: A company as the sample in source-apis.md 2.3 shows it; missing stored keys fall back to these.
_COMPANY_DEFAULTS: dict[str, Any] = {
    "id": 0, "name": "", "addressOne": "", "addressTwo": "", "city": "", "state": "", "zip": "",
    "countryCode": "", "phone": "", "fax": "", "website": "", "emailOne": "", "emailTwo": "",
    "emailThree": "", "cid": "", "companyNameUrl": "", "logoUrl": "", "isOwner": False,
    "canSeePrivate": True, "status": "active", "tags": [], "industry": None,
    "createdAt": "", "updatedAt": "",
}

#: v3 write keys -> stored keys (`countrycode` is what Teamwork's own SDK sends).
_V3_WRITE_KEYS: dict[str, str] = {
    **{key: key for key in TEXT_FIELDS if key != "countryCode"},
    "countrycode": "countryCode",
}
if fidelity.ACCEPT_CAMEL_COUNTRY_CODE_ON_WRITE:
    _V3_WRITE_KEYS["countryCode"] = "countryCode"

#: v1 keys -> stored keys (the same names serve GET and write bodies).
_V1_KEYS: dict[str, str] = {
    "name": "name", "address_one": "addressOne", "address_two": "addressTwo", "city": "city",
    "state": "state", "zip": "zip", "countrycode": "countryCode", "phone": "phone", "fax": "fax",
    "website": "website", "email_one": "emailOne", "email_two": "emailTwo",
    "email_three": "emailThree", "cid": "cid",
}

# v1 also returns the country's name; a short table covers the generated data.
_COUNTRY_NAMES = {
    "US": "United States", "CA": "Canada", "GB": "United Kingdom", "IE": "Ireland",
    "AU": "Australia", "NZ": "New Zealand", "DE": "Germany", "FR": "France", "ES": "Spain",
    "IT": "Italy", "NL": "Netherlands", "MX": "Mexico", "BR": "Brazil", "IN": "India", "JP": "Japan",
}


class WriteError(ValueError):
    """A write body the API refuses; `field` names the offending key."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def v3_company(stored: dict[str, Any]) -> dict[str, Any]:
    return {**_COMPANY_DEFAULTS, **stored}


def v1_company(stored: dict[str, Any]) -> dict[str, Any]:
    c = v3_company(stored)
    out: dict[str, Any] = {"id": str(c["id"])}
    out.update({v1: c[v3] or "" for v1, v3 in _V1_KEYS.items()})
    out["country"] = _COUNTRY_NAMES.get(str(c["countryCode"]).upper(), "")
    out["company_name_url"] = c["companyNameUrl"]
    out["logo-url"] = c["logoUrl"]
    out["can_see_private"] = bool(c["canSeePrivate"])
    out[fidelity.V1_OWNER_KEY] = "1" if c["isOwner"] else "0"
    out["status"] = c["status"]
    out["tags"] = c["tags"]
    out["industry"] = c["industry"] or ""
    out[fidelity.V1_COMPANY_CREATED_KEY] = c["createdAt"]
    out[fidelity.V1_COMPANY_UPDATED_KEY] = c["updatedAt"]
    return out


def _company_values(body: Any, keys: dict[str, str]) -> dict[str, str]:
    if not isinstance(body, dict) or not isinstance(body.get("company"), dict):
        raise WriteError('the body must be a JSON object {"company": {...}}', "company")
    values: dict[str, str] = {}
    # Sorted so that `countrycode` (lower-case) is applied after `countryCode` and wins.
    for key in sorted(body["company"], key=lambda k: (k == "countrycode", k)):
        stored_key = keys.get(key)
        if stored_key is None:
            continue  # unknown or read-only keys are ignored, as the real API does
        value = body["company"][key]
        if value is None:
            value = ""
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        elif not isinstance(value, str):
            raise WriteError(f"'{key}' must be a string", key)
        values[stored_key] = value.strip()
    if "name" in values and not values["name"]:
        raise WriteError("A company name is required", "name")
    return values


def v3_company_values(body: Any) -> dict[str, str]:
    """Stored-key values from a v3 `{"company": {...}}` body."""
    return _company_values(body, _V3_WRITE_KEYS)


def v1_company_values(body: Any) -> dict[str, str]:
    """Stored-key values from a v1 `{"company": {...}}` body."""
    return _company_values(body, _V1_KEYS)


def name_url(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _iso_date(compact: str | None) -> str | None:
    if not compact:
        return None
    try:
        return datetime.strptime(compact, "%Y%m%d").strftime(fidelity.V3_PROJECT_DATE_FORMAT)
    except ValueError:
        return None


def v3_project(stored: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": stored["id"],
        "name": stored.get("name", ""),
        "description": stored.get("description", ""),
        "status": stored.get("status", "active"),
        "subStatus": stored.get("subStatus", ""),
        "companyId": stored.get("companyId"),
        "ownerId": stored.get("ownerId"),
        "startAt": _iso_date(stored.get("startDate")),
        "endAt": _iso_date(stored.get("endDate")),
        "createdAt": stored.get("createdAt", ""),
        "updatedAt": stored.get("updatedAt", ""),
    }


def v3_user(stored_project: dict[str, Any]) -> dict[str, Any]:
    """The project owner as v3 side-loads it in `included.users`."""
    first, _, last = (stored_project.get("ownerName") or "").partition(" ")
    return {"id": stored_project.get("ownerId"), "firstName": first, "lastName": last}


def v1_project(stored: dict[str, Any], company: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": str(stored["id"]),
        "name": stored.get("name", ""),
        "description": stored.get("description", ""),
        "status": stored.get("status", "active"),
        "subStatus": stored.get("subStatus", ""),
        "company": {
            "id": str(stored.get("companyId") or 0),
            "name": (company or {}).get("name", ""),
            "is-owner": "1" if (company or {}).get("isOwner") else "0",
        },
        "owner": {"id": str(stored.get("ownerId") or ""), "fullName": stored.get("ownerName", "")},
        "startDate": stored.get("startDate") or "",
        "endDate": stored.get("endDate") or "",
        "created-on": stored.get("createdAt", ""),
        "last-changed-on": stored.get("updatedAt", ""),
    }


def webhook_project(stored: dict[str, Any]) -> dict[str, Any]:
    """A project as a v2 webhook payload carries it (the sample in source-apis.md 2.5)."""
    return {
        "id": stored["id"],
        "name": stored.get("name", ""),
        "description": stored.get("description", ""),
        "status": stored.get("status", "active"),
        "ownerId": stored.get("ownerId"),
        "companyId": stored.get("companyId"),
        "categoryId": stored.get("categoryId"),
        "dateCreated": stored.get("createdAt", ""),
        "dateUpdated": stored.get("updatedAt", ""),
    }
