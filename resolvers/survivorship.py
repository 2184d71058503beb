"""Choose the unified value of each attribute from the records linked to one customer.

A first, fixed policy: source priority per attribute, first non-empty value wins.
(Configurable policies per attribute come with the read-path issue.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from connectors import CustomerStatus, SourceRecord, SystemName

#: Accounting holds the billing identity; the CRM holds leads; projects come last.
DEFAULT_PRIORITY: Sequence[SystemName] = (SystemName.QUICKBOOKS, SystemName.SHAREPOINT, SystemName.TEAMWORK)


def ordered(records: Mapping[SystemName, Sequence[SourceRecord]], priority: Sequence[SystemName]) -> list[SourceRecord]:
    """All records, highest-priority system first; within a system the most recently updated first."""
    result: list[SourceRecord] = []
    for system in [*priority, *(s for s in records if s not in priority)]:
        result.extend(sorted(records.get(system, ()), key=_recency, reverse=True))
    return result


def _recency(record: SourceRecord) -> float:
    return record.updated_at.timestamp() if record.updated_at else 0.0


def first_value(records: Iterable[SourceRecord], attribute: str) -> Any:
    for record in records:
        value = getattr(record, attribute)
        if value is None or value == "":
            continue
        if hasattr(value, "is_empty") and value.is_empty():
            continue
        return value
    return None


def lifecycle(records: Mapping[SystemName, Sequence[SourceRecord]]) -> CustomerStatus | None:
    """lead -> active -> inactive: billing activity decides, then the CRM status."""
    statuses = [r.status for rs in records.values() for r in rs if r.status is not None]
    billing = [r.status for r in records.get(SystemName.QUICKBOOKS, ()) if r.status is not None]
    if CustomerStatus.ACTIVE in billing:
        return CustomerStatus.ACTIVE
    if billing and all(s == CustomerStatus.INACTIVE for s in billing):
        return CustomerStatus.INACTIVE
    if CustomerStatus.ACTIVE in statuses:
        return CustomerStatus.ACTIVE
    if CustomerStatus.LEAD in statuses:
        return CustomerStatus.LEAD
    if CustomerStatus.INACTIVE in statuses:
        return CustomerStatus.INACTIVE
    return None
