"""A customer's writes as GraphQL: the ones still queued (`pendingWrites`) and the audit log (`history`).

Both read the gateway's own state (outbox and audit log), never a source system. A
gateway started without write services has neither, and answers with empty lists.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from connectors import SystemName
from resolvers._services import Services
from resolvers.errors import bad_input
from resolvers.pagination import PageInfo
from xref import AuditEntry, InvalidCursor, OutboxEntry, audit_cursor

if TYPE_CHECKING:
    from resolvers.types import System

#: `resolvers.types` imports this module, so the System enum is resolved when the schema is built.
LazySystem = Annotated["System", strawberry.lazy("resolvers.types")]  # type: ignore[valid-type]


@strawberry.type(description="A write to one system that the system has not confirmed yet; the outbox retries it.")
class PendingWrite:
    id: strawberry.ID = strawberry.field(description="The outbox entry (`c360 outbox retry|drop ID`).")
    system: LazySystem
    record_id: strawberry.ID | None
    action: str = strawberry.field(description="update, or compensate (putting back a mutation that failed elsewhere).")
    attempts: int = strawberry.field(description="Tries that failed so far.")
    next_attempt_at: datetime.datetime
    last_error: str | None
    created_at: datetime.datetime
    attributes: list[str] = strawberry.field(description="The attributes this write sets.")

    @classmethod
    def from_entry(cls, entry: OutboxEntry) -> PendingWrite:
        changes = entry.payload.get("changes")
        return cls(
            id=strawberry.ID(entry.id),
            system=SystemName(entry.system),
            record_id=strawberry.ID(entry.record_id) if entry.record_id is not None else None,
            action=entry.action,
            attempts=entry.attempts,
            next_attempt_at=entry.next_attempt_at,
            last_error=entry.last_error,
            created_at=entry.created_at,
            attributes=list(changes) if isinstance(changes, Mapping) else [],
        )


@strawberry.type(description="One attribute a mutation changed.")
class AuditChange:
    attribute: str
    before: str | None = strawberry.field(
        description='JSON text of the value before; for a write-through, an object per record ({"system:recordId": '
        "value}). Null when none was read."
    )
    after: str | None = strawberry.field(description="JSON text of the value written; null when none.")


@strawberry.type(description="What one record's system did with an audited mutation.")
class AuditOutcome:
    target: str = strawberry.field(description='"system:recordId".')
    status: str = strawberry.field(description="APPLIED, PENDING, FAILED, COMPENSATED or CANCELLED; the outbox's "
                                   "entries: APPLIED or DEAD; createCustomer: CREATED; convertLead: a ConversionAction "
                                   "(CREATED, LINKED, ...) or FAILED.")
    error: str | None


@strawberry.type(description="One change made through the gateway: who, when, what, and how each system took it.")
class AuditEvent:
    id: strawberry.ID
    at: datetime.datetime
    subject: str = strawberry.field(description="Who made the change (the outbox worker is `outbox`).")
    mutation: str
    mutation_id: str = strawberry.field(description="Shared by a mutation's entries (its write, then the outbox's).")
    idempotency_key: str | None
    changes: list[AuditChange]
    outcomes: list[AuditOutcome]

    @classmethod
    def from_entry(cls, entry: AuditEntry) -> AuditEvent:
        return cls(
            id=strawberry.ID(str(entry.id)),
            at=entry.at,
            subject=entry.subject,
            mutation=entry.mutation,
            mutation_id=entry.mutation_id,
            idempotency_key=entry.idempotency_key,
            changes=[
                AuditChange(attribute=str(c["attribute"]), before=_json_text(c["before"]), after=_json_text(c["after"]))
                for c in entry.changes
            ],
            outcomes=[
                AuditOutcome(target=target, status=str(o.get("status")), error=_text_or_none(o.get("error")))
                for target, o in entry.outcomes.items()
            ],
        )


@strawberry.type
class AuditEventEdge:
    cursor: str
    node: AuditEvent


@strawberry.type(description="A page of a customer's audit log, newest first (Relay connection).")
class AuditConnection:
    edges: list[AuditEventEdge]
    page_info: PageInfo


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


async def pending_writes_for(services: Services, customer_id: str) -> list[PendingWrite]:
    """The customer's pending outbox entries, in queue order (next due first)."""
    if services.writes is None:
        return []
    return [PendingWrite.from_entry(e) for e in await services.writes.outbox.pending_for_customer(customer_id)]


async def history_page(services: Services, customer_id: str, first: int, after: str | None) -> AuditConnection:
    """One page of the customer's audit log; BAD_USER_INPUT for `first` out of range or a foreign cursor."""
    limit = services.max_page_size
    if not 1 <= first <= limit:
        raise bad_input(f"`first` must be between 1 and {limit}, got {first}", "first")
    if services.writes is None:
        return AuditConnection(edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None))
    try:
        page = await services.writes.audit.history(customer_id, first=first, after=after)
    except InvalidCursor:
        raise bad_input("`after` is not a cursor returned by this API", "after") from None
    edges = [AuditEventEdge(cursor=audit_cursor(e.id), node=AuditEvent.from_entry(e)) for e in page.entries]
    return AuditConnection(edges=edges, page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor))
