"""The Teamwork site's state: companies and projects in their stored (v3) shape.

Both API generations go through these operations, so v1 and v3 always agree, and both
fire the same webhook events (`listeners`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection as Ids, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from sandbox._store import Store
from sandbox.teamwork import fidelity
from sandbox.teamwork._wire import TEXT_FIELDS, name_url

_TS = "%Y-%m-%dT%H:%M:%SZ"

log = logging.getLogger("sandbox.teamwork")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class NotFound(LookupError):
    pass


class OwnerProtected(PermissionError):
    pass


#: Told about every write: the webhook event name (`COMPANY.UPDATED`) and the record as it now is.
ChangeListener = Callable[[str, dict[str, Any]], None]


class TeamworkRecords:
    """Companies and projects of one site; every write goes through to the store."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = utc_now) -> None:
        self.companies = store.collection("companies")
        self.projects = store.collection("projects")
        self._clock = clock
        self.listeners: list[ChangeListener] = []

    def _changed(self, event: str, record: dict[str, Any]) -> None:
        for listener in self.listeners:
            try:
                listener(event, record)
            except Exception:  # a webhook problem must never fail the write that caused it
                log.exception("change listener failed", extra={"event": event})

    def _stamp(self, previous: str | None = None) -> str:
        now = self._clock().replace(microsecond=0)
        before = parse_ts(previous)
        if fidelity.UPDATED_AT_STRICTLY_INCREASES and before is not None and now <= before:
            now = before + timedelta(seconds=1)
        return now.strftime(_TS)

    # --- companies ------------------------------------------------------------------------

    def company(self, company_id: int) -> dict[str, Any]:
        found = self.companies.get(company_id)
        if found is None:
            raise NotFound(f"company {company_id}")
        return found

    def find_companies(self, search: str | None = None, ids: Ids[int] | None = None) -> list[dict[str, Any]]:
        needle = search.strip().lower() if search else ""
        out = []
        for company in self.companies.all():
            if ids is not None and company["id"] not in ids:
                continue
            if needle and not any(needle in str(company.get(f) or "").lower() for f in fidelity.SEARCH_FIELDS):
                continue
            out.append(company)
        return out

    def create_company(self, values: dict[str, str]) -> dict[str, Any]:
        if not values.get("name"):
            raise ValueError("A company name is required")
        company_id = self.companies.allocate_id()
        stamp = self._stamp()
        record: dict[str, Any] = {"id": company_id, **{key: "" for key in TEXT_FIELDS}}
        record.update(values)
        record.update({
            "companyNameUrl": name_url(values["name"]), "logoUrl": "", "isOwner": False,
            "canSeePrivate": True, "status": "active", "tags": [], "industry": None,
            "createdAt": stamp, "updatedAt": stamp,
        })
        self.companies.put(company_id, record)
        self._changed("COMPANY.CREATED", record)
        return record

    def update_company(self, company_id: int, values: dict[str, str]) -> dict[str, Any]:
        # Last write wins: Teamwork has no concurrency token (source-apis.md 2.7).
        record = {**self.company(company_id), **values}
        record["updatedAt"] = self._stamp(record.get("updatedAt"))
        self.companies.put(company_id, record)
        self._changed("COMPANY.UPDATED", record)
        return record

    def delete_company(self, company_id: int) -> None:
        record = self.company(company_id)
        if record.get("isOwner"):
            raise OwnerProtected("The site owner company can not be deleted")
        gone = {**record, "status": "deleted", "updatedAt": self._stamp(record.get("updatedAt"))}
        if fidelity.DELETE_REMOVES_RECORD:
            self.companies.delete(company_id)
        else:
            self.companies.put(company_id, gone)
        self._changed("COMPANY.DELETED", gone)

    # --- projects -------------------------------------------------------------------------

    def find_projects(
        self,
        company_ids: Ids[int] | None = None,
        statuses: Iterable[str] | None = None,
        updated_after: datetime | None = None,
    ) -> list[dict[str, Any]]:
        wanted = {s.lower() for s in statuses} if statuses is not None else None
        out = []
        for project in self.projects.all():
            if company_ids is not None and project.get("companyId") not in company_ids:
                continue
            if wanted is not None and str(project.get("status", "")).lower() not in wanted:
                continue
            if updated_after is not None:
                changed = parse_ts(project.get("updatedAt"))
                if changed is None or changed <= updated_after:
                    continue
            out.append(project)
        return out

    def create_project(
        self, name: str, company_id: int, *, description: str = "", start: str = "", end: str = ""
    ) -> dict[str, Any]:
        self.company(company_id)
        project_id = self.projects.allocate_id()
        stamp = self._stamp()
        record = {
            "id": project_id, "name": name, "description": description, "status": "active",
            "subStatus": "current", "companyId": company_id, "ownerId": None, "ownerName": "",
            "startDate": start, "endDate": end, "createdAt": stamp, "updatedAt": stamp,
        }
        self.projects.put(project_id, record)
        self._changed("PROJECT.CREATED", record)
        return record
