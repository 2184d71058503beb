"""Teamwork records: v3 companies (id 1 is the site owner) and their projects (sandbox/STORAGE.md)."""

from __future__ import annotations

import re
from random import Random
from typing import Any

from sandbox._gen_clock import DAY, Timeline, compact_date, utc_z
from sandbox._gen_entity import Entity
from sandbox._gen_drift import RecordDrift
from sandbox._gen_mess import DUPLICATE_MESS, TEAMWORK_MESS, MessProfile, format_only, project
from sandbox._gen_sink import RecordSink
from sandbox._gen_words import PROJECT_NAMES, TEAMWORK_STAFF

OWNER_COMPANY_ID = 1
OWNER_COMPANY_NAME = "c360 Sandbox Services"
_FIRST_COMPANY_ID = 195_000
_FIRST_PROJECT_ID = 787_000
_SLUG = re.compile(r"[^a-z0-9]+")


def _company(company_id: int, name: str, created: int, updated: int, **values: Any) -> dict[str, Any]:
    # Teamwork returns "" (not null) for empty text, so every text key is always present.
    record: dict[str, Any] = {
        "id": company_id,
        "name": name,
        "addressOne": "",
        "addressTwo": "",
        "city": "",
        "state": "",
        "zip": "",
        "countryCode": "",
        "phone": "",
        "fax": "",
        "website": "",
        "emailOne": "",
        "emailTwo": "",
        "emailThree": "",
        "cid": "",
        "companyNameUrl": _SLUG.sub("", name.lower()),
        "logoUrl": "",
        "isOwner": False,
        "canSeePrivate": True,
        "status": "active",
        "tags": [],
        "industry": None,
        "createdAt": utc_z(created),
        "updatedAt": utc_z(updated),
    }
    record.update(values)
    return record


class TeamworkBuilder:
    """Writes companies (large ids from 195000) and 0-4 projects per company."""

    def __init__(self, sink: RecordSink, rng: Random, timeline: Timeline, *, known_drift: bool = False) -> None:
        """`known_drift`: users make differences of form only, and value drift comes from `RecordDrift`s."""
        self._sink = sink
        self._rng = rng
        self._timeline = timeline
        self._mess: MessProfile = format_only(TEAMWORK_MESS) if known_drift else TEAMWORK_MESS
        self._duplicate_mess: MessProfile = format_only(DUPLICATE_MESS) if known_drift else DUPLICATE_MESS
        self._next_company = _FIRST_COMPANY_ID
        self._next_project = _FIRST_PROJECT_ID
        self.companies = 0
        self.duplicates = 0
        self.projects = 0

    def owner(self) -> None:
        """The site-owner company: present in every Teamwork site, never a customer."""
        start = self._timeline.start - 30 * DAY
        self._sink.add(
            "companies",
            OWNER_COMPANY_ID,
            _company(
                OWNER_COMPANY_ID, OWNER_COMPANY_NAME, start, start + DAY,
                addressOne="100 Shoreline Hwy.", city="Mill Valley", state="CA", zip="94941",
                countryCode="US", phone="(415) 555-0100", website="https://c360.example.com",
                emailOne="ops@c360.example.com", isOwner=True,
            ),
        )

    def company(self, entity: Entity, *, created: int, duplicate: bool = False, drift: RecordDrift | None = None) -> int:
        """Add one company for `entity` (and its projects); returns the company id."""
        rng = self._rng
        company_id = self._next_company
        self._next_company += rng.randint(1, 9)  # ids are shared with other objects on a real site
        p = project(entity, self._duplicate_mess if duplicate else self._mess, rng)
        if drift is not None:
            p = drift.project(p, entity)
        updated = created if rng.random() < 0.3 else rng.randint(created, self._timeline.as_of)
        values: dict[str, Any] = {
            "addressOne": p.line1 or "",
            "addressTwo": p.line2 or "",
            "city": p.city or "",
            "state": p.state or "",
            "zip": p.zip or "",
            "countryCode": "US" if p.line1 and rng.random() < 0.9 else "",
            "phone": p.phone or "",
            "emailOne": p.email or "",
        }
        if entity.domain and rng.random() < 0.6:
            values["website"] = rng.choice(("https://{d}", "https://www.{d}", "http://www.{d}", "www.{d}", "{d}")).format(
                d=entity.domain
            )
        if drift is not None:
            website = drift.website(entity, values.get("website"))
            if website is not None:
                values["website"] = website
        if not entity.is_person and rng.random() < 0.2:
            values["emailTwo"] = entity.billing_email
        if rng.random() < 0.3:
            values["cid"] = f"CUST-{rng.randint(1, 99999):05d}"
        if rng.random() < 0.05:
            values["fax"] = p.phone or ""
        self._sink.add("companies", company_id, _company(company_id, p.name, created, updated, **values))
        self.companies += 1
        self.duplicates += duplicate
        self._projects(entity, company_id, created, duplicate)
        return company_id

    def _projects(self, entity: Entity, company_id: int, created: int, duplicate: bool) -> None:
        rng = self._rng
        as_of = self._timeline.as_of
        count = (1 if rng.random() < 0.25 else 0) if duplicate else rng.choices(range(5), (15, 35, 25, 15, 10))[0]
        for _ in range(count):
            project_created = rng.randint(created, as_of)
            planned = not entity.is_former and rng.random() < 0.05
            start = project_created + rng.randint(7, 60) * DAY if planned else rng.randint(project_created, project_created + 21 * DAY)
            end = start + rng.randint(14, 240) * DAY
            if entity.is_former or end < as_of - 30 * DAY and rng.random() < 0.85:
                status, sub_status = "archived", "completed"
            elif start > as_of:
                status, sub_status = "active", "upcoming"
            elif end < as_of:
                status, sub_status = "active", "late"
            else:
                status, sub_status = "active", "current"
            owner_id, owner_name = rng.choice(TEAMWORK_STAFF)
            project_id = self._next_project
            self._next_project += rng.randint(1, 5)
            self._sink.add(
                "projects",
                project_id,
                {
                    "id": project_id,
                    "name": rng.choice(PROJECT_NAMES),
                    "description": "",
                    "status": status,
                    "subStatus": sub_status,
                    "companyId": company_id,
                    "ownerId": owner_id,
                    "ownerName": owner_name,
                    "startDate": compact_date(start),
                    "endDate": "" if status == "active" and rng.random() < 0.1 else compact_date(end),
                    "createdAt": utc_z(project_created),
                    "updatedAt": utc_z(rng.randint(project_created, as_of)),
                },
            )
            self.projects += 1
