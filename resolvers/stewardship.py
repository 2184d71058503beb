"""The data steward's API: the review queue, and link / unlink / merge / resolve mutations.

Mutations return a union of success and `StewardError` rather than raising, so a
steward's tool can switch on `__typename` and `code` (an unknown record is a normal
answer here, not a failure of the request).
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

import strawberry

from connectors import ConnectorError, SystemName
from resolvers.errors import bad_input, error_code
from resolvers.types import Customer, Info, MatchEvidence, PageInfo, System, match_evidence
from xref import InvalidCursor, ReviewInfo, StewardActionError, StewardActions, StewardOutcome, XrefError

__all__ = ["StewardMutation", "StewardQuery"]

#: Review pages are read by people; a thousand is already more than a screen.
_MAX_REVIEW_PAGE = 1000


@strawberry.input(description="One source record: its system and its id there.")
class RecordKeyInput:
    system: System  # type: ignore[valid-type]
    id: strawberry.ID


@strawberry.type(description="One record of a review pair, and the golden customer it is in now.")
class ReviewRecordRef:
    system: System  # type: ignore[valid-type]
    id: strawberry.ID
    url: str | None = strawberry.field(description="Opens the record in that system's own UI.")
    customer_id: strawberry.Private[str | None]

    @strawberry.field(description="The golden customer holding this record now; null when it is not linked.")
    async def customer(self, info: Info) -> Customer | None:
        if self.customer_id is None:
            return None
        links = await info.context.links.load(self.customer_id)
        return Customer(id=strawberry.ID(self.customer_id), links=links)


@strawberry.type(name="ReviewItem", description="A pair of records the matcher could not decide on, for a person.")
class ReviewItemType:
    id: strawberry.ID
    left: ReviewRecordRef
    right: ReviewRecordRef
    score: float = strawberry.field(description="Sum of the evidence weights.")
    reason: str = strawberry.field(description="uncertain, conflict, or decision_changed (a ruling's records changed).")
    evidence: list[MatchEvidence]
    created_at: datetime.datetime


@strawberry.type
class ReviewItemEdge:
    cursor: str
    node: ReviewItemType


@strawberry.type(description="A page of open review items, oldest first (Relay connection).")
class ReviewItemConnection:
    edges: list[ReviewItemEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="A steward action that took effect: the customers it touched, as they are now.")
class StewardSuccess:
    customers: list[Customer] = strawberry.field(description="Survivor first; a merged-away id shows as its survivor.")
    decision_ids: list[strawberry.ID] = strawberry.field(description="The pair rulings recorded.")


@strawberry.type(description="Why a steward action was not done; nothing was changed.")
class StewardError:
    message: str
    code: str = strawberry.field(
        description="CUSTOMER_NOT_FOUND, RECORD_NOT_FOUND, REVIEW_ITEM_NOT_FOUND, INVALID_ACTION, STEWARD_ERROR, "
        "or a source code such as SOURCE_UNAVAILABLE when a record could not be read."
    )


StewardResult = Annotated[StewardSuccess | StewardError, strawberry.union("StewardResult")]


def _actions(info: Info) -> StewardActions:
    services = info.context.services
    return StewardActions(
        services.xref, services.connectors, region=services.phone_region, stewardship=services.steward()
    )


def _key(record: RecordKeyInput) -> tuple[SystemName, str]:
    return (SystemName(record.system), str(record.id))


async def _customers(info: Info, ids: Sequence[str]) -> list[Customer]:
    """The customers as they are after the action, following merges, each once."""
    xref = info.context.services.xref
    found: dict[str, Customer] = {}
    for customer_id in ids:
        customer = await xref.get(customer_id)
        if customer is not None and customer.id not in found:
            found[customer.id] = Customer(id=strawberry.ID(customer.id), links=list(customer.links))
    return list(found.values())


async def _run(info: Info, action: Callable[[], Awaitable[StewardOutcome]]) -> StewardSuccess | StewardError:
    try:
        outcome = await action()
    except StewardActionError as exc:
        return StewardError(message=str(exc), code=exc.code)
    except XrefError as exc:
        return StewardError(message=str(exc), code=StewardActionError.code)
    except ConnectorError as exc:
        # The ruling needs the records' current values; without them nothing is decided.
        return StewardError(message=f"{exc.system.value} could not be read: {exc.message}", code=error_code(exc))
    return StewardSuccess(
        customers=await _customers(info, outcome.customer_ids),
        decision_ids=[strawberry.ID(str(d.id)) for d in outcome.decisions],
    )


def _review_item(info: Info, item: ReviewInfo, owners: dict[tuple[SystemName, str], str]) -> ReviewItemType:
    connectors = info.context.services.connectors

    def ref(key: tuple[SystemName, str]) -> ReviewRecordRef:
        system, record_id = key
        url = connectors[system].record_url(record_id) if system in connectors else None
        return ReviewRecordRef(system=system, id=strawberry.ID(record_id), url=url, customer_id=owners.get(key))

    left, right = item.pair
    return ReviewItemType(
        id=strawberry.ID(str(item.id)),
        left=ref(left),
        right=ref(right),
        score=item.score,
        reason=item.reason,
        evidence=match_evidence(item.evidence),
        created_at=item.created_at,
    )


@strawberry.type
class StewardQuery:
    @strawberry.field(description="Open review items: pairs the matcher is unsure of, or rulings whose records changed.")
    async def review_queue(self, info: Info, first: int = 20, after: str | None = None) -> ReviewItemConnection:
        if not 1 <= first <= _MAX_REVIEW_PAGE:
            raise bad_input(f"`first` must be between 1 and {_MAX_REVIEW_PAGE}, got {first}", "first")
        services = info.context.services
        try:
            page = await services.steward().review_queue(first, after)
        except InvalidCursor:
            raise bad_input("`after` is not a cursor returned by this query", "after") from None
        owners = await services.xref.customers_for([key for item in page.items for key in item.pair])
        edges = [ReviewItemEdge(cursor=_item_cursor(item.id), node=_review_item(info, item, owners)) for item in page.items]
        return ReviewItemConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            total_count=page.total,
        )


def _item_cursor(item_id: int) -> str:
    """The cursor that resumes after this item: the form Stewardship.review_queue issues as `end_cursor`."""
    return base64.urlsafe_b64encode(f"r1:{item_id}".encode()).decode().rstrip("=")


@strawberry.type
class StewardMutation:
    @strawberry.mutation(description="Rule two records one customer, and put them in one now.")
    async def link_records(
        self, info: Info, a: RecordKeyInput, b: RecordKeyInput, decided_by: str
    ) -> StewardResult:  # type: ignore[valid-type]
        return await _run(info, lambda: _actions(info).link_records(_key(a), _key(b), decided_by=decided_by))

    @strawberry.mutation(description="Split a record off its customer; it gets a golden id of its own.")
    async def unlink_record(self, info: Info, record: RecordKeyInput, decided_by: str) -> StewardResult:  # type: ignore[valid-type]
        return await _run(info, lambda: _actions(info).unlink_record(_key(record), decided_by=decided_by))

    @strawberry.mutation(description="Merge customer `from` into `into`; the `from` id then resolves to `into`.")
    async def merge_customers(
        self,
        info: Info,
        into: strawberry.ID,
        from_: Annotated[strawberry.ID, strawberry.argument(name="from")],
        decided_by: str,
    ) -> StewardResult:  # type: ignore[valid-type]
        return await _run(info, lambda: _actions(info).merge_customers(str(into), str(from_), decided_by=decided_by))

    @strawberry.mutation(description="Accept (link now) or reject (split now, if together) a review item.")
    async def resolve_review(
        self, info: Info, id: strawberry.ID, accept: bool, decided_by: str
    ) -> StewardResult:  # type: ignore[valid-type]
        try:
            item_id = int(str(id))
        except ValueError:
            return StewardError(message=f"no review item {id}", code="REVIEW_ITEM_NOT_FOUND")
        return await _run(info, lambda: _actions(info).resolve_review(item_id, accept=accept, decided_by=decided_by))
