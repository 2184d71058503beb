"""Change data capture: `GET /cdc?entities=Customer,Invoice&changedSince=...` (source-apis.md 3.5).

Full records whose `MetaData.LastUpdatedTime` is at or after `changedSince`, inactive
customers included (they are "deleted" customers), and stubs `{"status": "Deleted"}`
for deleted invoices. One `QueryResponse` object per entity asked for, in the order
asked for. `changedSince` more than 30 days back is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sandbox.quickbooks import fidelity
from sandbox.quickbooks._books import Books, invalid, render_customer, required
from sandbox.quickbooks._wire import COMPANY_TZ, QboFault

_ENTITIES = ("Customer", "Invoice")


def parse_changed_since(raw: str | None) -> datetime:
    """`changedSince` as sent: ISO 8601 with or without offset (then company time), or a date."""
    if raw is None or not raw.strip():
        raise required("changedSince", "Required parameter changedSince is missing in the request")
    text = raw.strip()
    for candidate in (text, text.replace(" ", "+")):  # an unencoded "+" in the offset arrives as a space
        try:
            moment = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=COMPANY_TZ)
    raise invalid("changedSince", f"changedSince is not a valid date and time: {raw}")


def requested_entities(raw: str | None) -> list[str]:
    if raw is None or not raw.strip():
        raise required("entities", "Required parameter entities is missing in the request")
    names: list[str] = []
    for part in raw.split(","):
        name = next((known for known in _ENTITIES if known.lower() == part.strip().lower()), None)
        if name is None:
            raise invalid("entities", f"Entity {part.strip()} is not supported for change data capture")
        if name not in names:
            names.append(name)
    return names


def _last_updated(record: dict[str, Any]) -> datetime | None:
    raw = (record.get("MetaData") or {}).get("LastUpdatedTime")
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def _changed(records: Iterable[dict[str, Any]], since: datetime) -> list[tuple[datetime, dict[str, Any]]]:
    found = []
    for record in records:
        moment = _last_updated(record)
        if moment is not None and (moment > since or (fidelity.CDC_CHANGED_SINCE_INCLUSIVE and moment == since)):
            found.append((moment, record))
    found.sort(key=lambda pair: (pair[0], int(pair[1]["Id"])))
    return found


def change_data_capture(books: Books, entities: str | None, changed_since: str | None, now: datetime) -> dict[str, Any]:
    """The `CDCResponse` body (without `time`, which the envelope adds)."""
    names = requested_entities(entities)
    since = parse_changed_since(changed_since)
    if since < now - timedelta(days=fidelity.CDC_MAX_DAYS_BACK):
        code, message = fidelity.CDC_TOO_OLD_FAULT
        raise QboFault(code, message, f"changedSince can not be more than {fidelity.CDC_MAX_DAYS_BACK} days "
                                      f"in the past: {changed_since}", element="changedSince")
    responses: list[dict[str, Any]] = []
    for name in names:
        if name == "Customer":
            rows = [render_customer(record) for _, record in _changed(books.customers.all(), since)]
        else:
            merged = [*books.invoices.all(), *books.deleted_invoices.all()]
            rows = [dict(record) for _, record in _changed(merged, since)]
        rows = rows[: fidelity.CDC_MAX_PER_ENTITY]
        if rows:
            responses.append({name: rows, "startPosition": 1, "maxResults": len(rows), "totalCount": len(rows)})
        elif fidelity.CDC_EMPTY_ENTITY_AS_EMPTY_OBJECT:
            responses.append({})
    return {"CDCResponse": [{"QueryResponse": responses}]}
