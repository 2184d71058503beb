"""A small seeded SharePoint site in the stored shape of sandbox/STORAGE.md (what the generator writes)."""

from __future__ import annotations

import uuid
from typing import Any

MARK = {"id": "6", "email": "mark@contoso.com", "displayName": "Mark Matkowski"}


def make_item(item_id: int, fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One item in the stored shape of sandbox/STORAGE.md."""
    return {
        "id": item_id,
        "guid": str(uuid.UUID(int=item_id + 0x5D2F1B5C8C8E4B6E9A532A0C6F1D0000)),
        "version": 3,
        "created": "2024-03-01T14:05:12Z",
        "modified": f"2024-05-{10 + item_id % 20:02d}T09:31:44Z",
        "createdBy": MARK,
        "modifiedBy": MARK,
        "fields": fields,
        **extra,
    }


CUSTOMERS: list[dict[str, Any]] = [
    make_item(1, {"Title": "Bill's Windsurf Shop", "StreetAddress1": "12 Ocean Dr.", "StreetAddress2": "Suite 4",
                  "City": "Half Moon Bay", "State": "CA", "Zip": "94213", "EmailPrimary": "surf@example.com",
                  "Phone": "(415) 444-6538", "CustomerStatus": "active"}),
    make_item(2, {"Title": "Amy's Bird Sanctuary", "City": "Bayshore", "State": "CA",
                  "EmailPrimary": "Birds@Example.com", "Phone": "(650) 555-3311", "CustomerStatus": "lead"}),
    make_item(3, {"Title": "Billy Bob's Barbecue", "EmailPrimary": "bbq@example.com", "CustomerStatus": "active"}),
    make_item(4, {"Title": "Cool Cars", "Phone": "(415) 555-9933", "CustomerStatus": "lead", "Zip": ""}),
    make_item(5, {"Title": "Dukes Basketball Camp", "City": "Middlefield", "CustomerStatus": "active"}),
]

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOCUMENTS: list[dict[str, Any]] = [
    make_item(1, {"FileLeafRef": "Proposal - Bill's Windsurf Shop.docx", "DocumentType": "proposal",
                  "CustomerLookupId": "1"}, size=48211, mimeType=DOCX),
    make_item(2, {"FileLeafRef": "SOW - Bill's Windsurf Shop.pdf", "DocumentType": "sow",
                  "CustomerLookupId": "1"}, size=1200, mimeType="application/pdf"),
    make_item(3, {"FileLeafRef": "Contract - Amy.pdf", "DocumentType": "contract",
                  "CustomerLookupId": "2"}, size=999, mimeType="application/pdf"),
]
