"""The Query root and the executable schema."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Annotated

import strawberry
from strawberry.tools import merge_types

from connectors import ConnectorError, SystemName
from connectors import CustomerStatus as CustomerStatusValue
from resolvers.errors import MaskInternalErrors, bad_input
from resolvers.execution import LeanExecutionContext
from resolvers.limits import GraphQLLimits, limit_extensions
from resolvers.pagination import decode_cursor, encode_cursor
from xref import InvalidCursor, customer_cursor
from resolvers.customer_filter import LiveFilter, predicate, scan
from resolvers.selection import selected_names
from resolvers.types import Customer, CustomerConnection, CustomerEdge, CustomerFilter, Info, PageInfo, prefetch
from resolvers.mutations import CustomerMutation
from resolvers.stewardship import StewardMutation, StewardQuery
from resolvers.candidates import CandidateQuery
from resolvers.data_quality import DataQualityQuery

log = logging.getLogger("c360.resolvers")

_PHONE_LIKE = re.compile(r"^[\d\s()+.\-x]{7,}$")


def _check_first(first: int, limit: int) -> None:
    if first < 1 or first > limit:
        raise bad_input(f"`first` must be between 1 and {limit}, got {first}", "first")


async def _search_hits(info: Info, text: str) -> list[str]:
    """Golden ids of customers any system finds for `text`, in the systems' ranking order."""
    services = info.context.services
    email = text if "@" in text else None
    phone = text if _PHONE_LIKE.match(text) else None
    name = None if (email or phone) else text

    async def one(system: SystemName) -> list[tuple[SystemName, str]]:
        try:
            found = await services.connectors[system].search(name=name, email=email, phone=phone)
        except ConnectorError as exc:
            log.warning("search failed in one system", extra={"system": system.value, "error": type(exc).__name__})
            return []
        return [(r.system, r.id) for r in found]

    keys = [key for hits in await asyncio.gather(*(one(s) for s in services.connectors)) for key in hits]
    owners = await services.xref.customers_for(keys)
    seen: dict[str, None] = {}
    for key in keys:
        if (golden := owners.get(key)) is not None:
            seen.setdefault(golden, None)
    return list(seen)


@strawberry.type
class Query:
    @strawberry.field(description="One customer by its golden id; null if no such customer.")
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        found = await info.context.services.xref.get(str(id))
        if found is None:
            return None
        customer = Customer(id=strawberry.ID(found.id), links=list(found.links))
        await prefetch([customer], info, selected_names(info))
        return customer

    @strawberry.field(description="Customers, in golden-id order or by relevance when searching.")
    async def customers(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        search: Annotated[
            str | None, strawberry.argument(description="Name, email or phone; matched live in every system.")
        ] = None,
        filter: Annotated[
            CustomerFilter | None,
            strawberry.argument(
                description="`system` is answered by the index; `status` and `hasOpenInvoices` scan the list "
                "against live data (bounded; a page may hold fewer than `first` edges: continue from `endCursor`)."
            ),
        ] = None,
    ) -> CustomerConnection:
        """Customers; a filter on live data (status, open invoices) is a bounded scan, see resolvers.customer_filter."""
        page = await _customers_page(info, first, after, search, filter)
        await prefetch([edge.node for edge in page.edges], info, selected_names(info, ("edges", "node")))
        return page

    @strawberry.field(description="Liveness of the gateway itself (systems are checked at /healthz).")
    def ping(self) -> str:
        return "pong"


async def _customers_page(
    info: Info, first: int, after: str | None, search: str | None, filter: CustomerFilter | None
) -> CustomerConnection:
    """The page of `Query.customers`, before its customers' data is loaded."""
    services = info.context.services
    _check_first(first, services.max_page_size)
    text = (filter.search if filter is not None and filter.search else search) or ""
    systems = [SystemName(s) for s in filter.system] if filter is not None and filter.system else None
    live = LiveFilter(
        statuses=frozenset(CustomerStatusValue(s) for s in filter.status or ()) if filter is not None else frozenset(),
        has_open_invoices=filter.has_open_invoices if filter is not None else None,
    )
    if text.strip():
        return await _search_page(info, text.strip(), first, after, systems, live)
    try:
        if live:
            return await scan(
                info, live, first=first, after=after, systems=systems, max_pages=services.customer_filter_max_pages
            )
        page = await services.xref.list_customers(first=first, after=after, systems=systems)
    except InvalidCursor:
        raise bad_input("`after` is not a cursor returned by this API", "after") from None
    edges = [
        CustomerEdge(cursor=customer_cursor(c.id), node=Customer(id=strawberry.ID(c.id), links=list(c.links)))
        for c in page.customers
    ]
    return CustomerConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        total_count=page.total,
    )


async def _search_page(
    info: Info,
    text: str,
    first: int,
    after: str | None,
    systems: Sequence[SystemName] | None = None,
    live: LiveFilter | None = None,
) -> CustomerConnection:
    """Search hits in ranking order; other filter parts are applied to the hits (live ones on loaded records)."""
    start = int(decode_cursor(after, "search")) + 1 if after else 0
    hits = await _search_hits(info, text)
    links = await info.context.links.load_many(hits[start:])
    candidates = [
        (start + i, Customer(id=strawberry.ID(cid), links=lk))
        for i, (cid, lk) in enumerate(zip(hits[start:], links))
        if not systems or set(systems) <= {link.system for link in lk}
    ]
    if live:
        check = predicate(info, live)
        verdicts = await asyncio.gather(*(check(node) for _, node in candidates))
        candidates = [c for c, ok in zip(candidates, verdicts, strict=True) if ok]
    window = candidates[:first]
    edges = [CustomerEdge(cursor=encode_cursor("search", str(pos)), node=node) for pos, node in window]
    return CustomerConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=len(candidates) > first, end_cursor=edges[-1].cursor if edges else None),
        total_count=len(hits) if not (systems or live) else None,
    )


#: Root types contributed by other modules are merged here, so each area keeps its own file.
QUERY_PARTS: tuple[type, ...] = (Query, StewardQuery, CandidateQuery, DataQualityQuery)
MUTATION_PARTS: tuple[type, ...] = (CustomerMutation, StewardMutation)

_QUERY = merge_types("Query", QUERY_PARTS)
_MUTATION = merge_types("Mutation", MUTATION_PARTS) if MUTATION_PARTS else None


def build_schema(limits: GraphQLLimits | None = None) -> strawberry.Schema:
    """The executable schema with document limits and caches; the gateway passes its settings' limits."""
    return strawberry.Schema(
        query=_QUERY,
        mutation=_MUTATION,
        extensions=[MaskInternalErrors, *limit_extensions(limits or GraphQLLimits())],
        execution_context_class=LeanExecutionContext,
    )


#: Default limits; `c360 export-schema` prints this one (limits do not change the schema text).
schema = build_schema()
