"""`customers(filter: ...)`: which parts are answered by the index and which need a live scan.

The index (xref) knows only identities: which systems a customer is linked to. So
`system` is a cheap SQL filter. A customer's lifecycle status and whether it has open
invoices live in the source systems and are never copied into the gateway (the one
rule of the architecture), so `status` and `hasOpenInvoices` are evaluated on live
records: the customer list is **scanned** page by page and each page is evaluated
through the request's DataLoaders (one batched call per system and relation per
page), until `first` customers match or `max_pages` pages were read.

Cost: up to `max_pages` x (one index query + one record call per system + one invoice
call for `hasOpenInvoices`). A selective filter can return fewer than `first` edges
with `hasNextPage: true`: the client continues from `endCursor`, which is the last
customer scanned (not the last one returned), so no customer is scanned twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import strawberry

from connectors import CustomerStatus, SystemName
from resolvers import survivorship
from resolvers.errors import source_error
from resolvers.types import Customer, CustomerConnection, CustomerEdge, Info, PageInfo, _fetch_records
from xref import customer_cursor

Predicate = Callable[[Customer], Awaitable[bool]]


@dataclass(frozen=True)
class LiveFilter:
    """The parts of a customer filter that need live data; empty means the index answers alone."""

    statuses: frozenset[CustomerStatus] = frozenset()
    has_open_invoices: bool | None = None

    def __bool__(self) -> bool:
        return bool(self.statuses) or self.has_open_invoices is not None


def predicate(info: Info, live: LiveFilter) -> Predicate:
    """Whether one customer passes the live filter; a system the answer depends on failing fails the query."""

    async def check(customer: Customer) -> bool:
        if live.statuses:
            fetched = await customer._records(info)
            for system in survivorship.LIFECYCLE_SYSTEMS:
                if system in fetched.failures:
                    raise source_error(fetched.failures[system])
            if survivorship.lifecycle(fetched.records) not in live.statuses:
                return False
        if live.has_open_invoices is not None:
            invoices = await customer._related(info.context.relations.invoices)
            if any(i.is_open for i in invoices) != live.has_open_invoices:
                return False
        return True

    return check


async def scan(
    info: Info,
    live: LiveFilter,
    *,
    first: int,
    after: str | None,
    systems: Sequence[SystemName] | None,
    max_pages: int,
) -> CustomerConnection:
    """Page through the index, keep the customers that pass `live`, stop at `first` matches or `max_pages`."""
    services = info.context.services
    check = predicate(info, live)
    page_size = services.max_page_size
    cursor = after
    matches: list[Customer] = []
    last_scanned: str | None = None
    more = True
    for _ in range(max_pages):
        page = await services.xref.list_customers(first=page_size, after=cursor, systems=systems)
        nodes = [Customer(id=strawberry.ID(c.id), links=list(c.links)) for c in page.customers]
        # Start every customer's records together so the loaders see the whole page as one batch.
        for node in nodes:
            node._fetched = asyncio.ensure_future(_fetch_records(node.links, info.context))
        verdicts = await asyncio.gather(*(check(node) for node in nodes))
        more = page.has_next_page
        for index, (node, ok) in enumerate(zip(nodes, verdicts, strict=True)):
            last_scanned = str(node.id)
            if ok:
                matches.append(node)
            if len(matches) == first:
                more = more or index < len(nodes) - 1
                break
        if len(matches) == first or not more:
            break
        cursor = page.end_cursor
    edges = [CustomerEdge(cursor=customer_cursor(str(node.id)), node=node) for node in matches]
    return CustomerConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=more, end_cursor=customer_cursor(last_scanned) if last_scanned is not None else after
        ),
        total_count=None,
    )
