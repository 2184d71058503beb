"""SharePoint records: the "Customers" list and the document library (sandbox/STORAGE.md)."""

from __future__ import annotations

import re
import uuid
from random import Random
from typing import Any

from sandbox._gen_clock import DAY, Timeline, utc_z
from sandbox._gen_entity import Entity
from sandbox._gen_drift import RecordDrift
from sandbox._gen_mess import DUPLICATE_MESS, SHAREPOINT_MESS, MessProfile, Projection, format_only, project
from sandbox._gen_sink import RecordSink
from sandbox._gen_words import (
    DOCUMENT_KINDS,
    MIME_TYPES,
    PROJECT_NAMES,
    SHAREPOINT_AUTHOR_WEIGHTS,
    SHAREPOINT_USERS,
    StaffMember,
)

# SharePoint refuses these in file names.
_BAD_FILE_CHARS = re.compile(r'["*:<>?/\\|]+')


def _guid(rng: Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _user(member: StaffMember) -> dict[str, str]:
    return {"id": member.id, "email": member.email, "displayName": member.name}


class SharePointBuilder:
    """Writes customer items (ids from 1) and their documents, tied by `CustomerLookupId`."""

    def __init__(self, sink: RecordSink, rng: Random, timeline: Timeline, *, known_drift: bool = False) -> None:
        """`known_drift`: users make differences of form only, and value drift comes from `RecordDrift`s."""
        self._sink = sink
        self._rng = rng
        self._timeline = timeline
        self._known_drift = known_drift
        self._mess: MessProfile = format_only(SHAREPOINT_MESS) if known_drift else SHAREPOINT_MESS
        self._duplicate_mess: MessProfile = format_only(DUPLICATE_MESS) if known_drift else DUPLICATE_MESS
        self._next_customer = 1
        self._next_document = 1
        self.customers = 0
        self.duplicates = 0
        self.documents = 0

    def customer(self, entity: Entity, *, created: int, duplicate: bool = False, drift: RecordDrift | None = None) -> int:
        """Add one Customers item for `entity`; returns its item id."""
        rng = self._rng
        item_id = self._next_customer
        self._next_customer += 1
        p = project(entity, self._duplicate_mess if duplicate else self._mess, rng)
        if drift is not None:
            p = drift.project(p, entity)
        if self._known_drift:
            # Known drift: a duplicate agrees with the first record on status too; only `drift` changes it.
            lead = entity.lifecycle == "lead" or (drift is not None and drift.values.get("status") == "lead")
            status = "lead" if lead else "active"
        else:
            status = "lead" if entity.lifecycle == "lead" or duplicate and rng.random() < 0.3 else "active"
        # Closing the sale flips the status, which is an edit after creation.
        floor = entity.won if status == "active" and not duplicate else created
        version = rng.randint(2, 7) if status == "active" else rng.randint(1, 3)
        modified = created if version == 1 else rng.randint(max(floor, created), self._timeline.as_of)
        author = rng.choices(SHAREPOINT_USERS, SHAREPOINT_AUTHOR_WEIGHTS)[0]
        editor = author if rng.random() < 0.6 else rng.choices(SHAREPOINT_USERS, SHAREPOINT_AUTHOR_WEIGHTS)[0]
        record = {
            "id": item_id,
            "guid": _guid(rng),
            "version": version,
            "created": utc_z(created),
            "modified": utc_z(modified),
            "createdBy": _user(author),
            "modifiedBy": _user(editor),
            "fields": _fields(p, status),
        }
        self._sink.add("customers", item_id, record)
        self.customers += 1
        self.duplicates += duplicate
        self._documents(entity, item_id, p.name, created, status, duplicate)
        return item_id

    def _documents(self, entity: Entity, item_id: int, title: str, created: int, status: str, duplicate: bool) -> None:
        rng = self._rng
        if duplicate:
            count = 1 if rng.random() < 0.2 else 0
        elif status == "lead":
            count = rng.choices((0, 1, 2), (5, 4, 1))[0]
        else:
            count = rng.choices((0, 1, 2, 3), (1, 3, 3, 3))[0]
        kinds = ("proposal", "other") if status == "lead" else ("proposal", "sow", "contract", "other")
        name = _BAD_FILE_CHARS.sub("", " ".join(title.split())) or entity.name
        for n in range(count):
            kind = kinds[0] if n == 0 else rng.choice(kinds)
            template = rng.choice(DOCUMENT_KINDS[kind])
            leaf = template.format(name=name, project=rng.choice(PROJECT_NAMES), n=rng.randint(1, 4))
            start = created if kind in ("proposal", "other") else max(created, entity.won)
            doc_created = rng.randint(start, self._timeline.clamp(start + 90 * DAY))
            version = rng.randint(1, 4)
            doc_modified = doc_created if version == 1 else rng.randint(doc_created, self._timeline.as_of)
            author = _user(rng.choices(SHAREPOINT_USERS, SHAREPOINT_AUTHOR_WEIGHTS)[0])
            doc_id = self._next_document
            self._next_document += 1
            self._sink.add(
                "documents",
                doc_id,
                {
                    "id": doc_id,
                    "guid": _guid(rng),
                    "version": version,
                    "created": utc_z(doc_created),
                    "modified": utc_z(doc_modified),
                    "createdBy": author,
                    "modifiedBy": author,
                    "size": rng.randint(18_000, 2_500_000),
                    "mimeType": MIME_TYPES[leaf.rsplit(".", 1)[1]],
                    "fields": {"FileLeafRef": leaf, "DocumentType": kind, "CustomerLookupId": str(item_id)},
                },
            )
            self.documents += 1


def _fields(p: Projection, status: str) -> dict[str, Any]:
    # Graph omits empty columns from `fields`, so absent values are left out.
    fields: dict[str, Any] = {"Title": p.name}
    for key, value in (
        ("StreetAddress1", p.line1),
        ("StreetAddress2", p.line2),
        ("City", p.city),
        ("State", p.state),
        ("Zip", p.zip),
        ("EmailPrimary", p.email),
        ("Phone", p.phone),
    ):
        if value:
            fields[key] = value
    fields["CustomerStatus"] = status
    return fields
