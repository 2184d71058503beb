"""Per-request state: DataLoaders are built here, never at module level (they cache per user request).

There is one loader per system for its customer records and one per system and
relation (projects, invoices, documents). A loader collects every key asked for in
one tick of the event loop, so a page of customers becomes one connector call per
system and relation, which the connector splits only by the API's own limits.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from connectors import Connector, ConnectorError, Document, Invoice, Project, SourceRecord, SystemName
from resolvers._services import Services
from xref import LinkInfo

RecordLoader = DataLoader[str, SourceRecord | None]
T = TypeVar("T")
#: Related items of one source record (its projects, invoices, documents), keyed by that record's id.
RelationLoader = DataLoader[str, list[T]]
RelationFetch = Callable[[Sequence[str]], Awaitable[Mapping[str, list[T]]]]


def _record_loader(connector: Connector) -> RecordLoader:
    async def load(keys: list[str]) -> list[SourceRecord | None | BaseException]:
        try:
            return list(await connector.fetch_many(keys))
        except ConnectorError as exc:
            # Every key of the batch fails the same way; only this system's fields go null.
            return [exc] * len(keys)

    return DataLoader(load_fn=load)


def _relation_loader(fetch: RelationFetch[T]) -> RelationLoader[T]:
    """One `fetch` call for every key of the batch; a key the system does not know has no items."""

    async def load(keys: list[str]) -> list[list[T] | BaseException]:
        try:
            found = await fetch(keys)
        except ConnectorError as exc:
            return [exc] * len(keys)
        return [list(found.get(key, [])) for key in keys]

    return DataLoader(load_fn=load)


def _relation_loaders(connectors: Mapping[SystemName, Connector], method: str) -> dict[SystemName, Any]:
    """A loader for each system whose connector offers `method` (a relation is optional in the protocol)."""
    return {
        system: _relation_loader(getattr(conn, method))
        for system, conn in connectors.items()
        if callable(getattr(conn, method, None))
    }


@dataclass
class Relations:
    """Relation loaders by system: only the systems that hold that relation appear."""

    projects: dict[SystemName, RelationLoader[Project]] = field(default_factory=dict)
    invoices: dict[SystemName, RelationLoader[Invoice]] = field(default_factory=dict)
    documents: dict[SystemName, RelationLoader[Document]] = field(default_factory=dict)


@dataclass
class Context:
    services: Services
    records: dict[SystemName, RecordLoader]
    links: DataLoader[str, list[LinkInfo]]
    relations: Relations = field(default_factory=Relations)
    #: The date invoice due dates are compared with (fixed for a whole request).
    today: datetime.date = field(default_factory=datetime.date.today)
    request: Any = None
    response: Any = None
    extensions: dict[str, Any] = field(default_factory=dict)


def build_context(
    services: Services, request: Any = None, response: Any = None, *, today: datetime.date | None = None
) -> Context:
    async def load_links(keys: list[str]) -> list[list[LinkInfo]]:
        found = await services.xref.links_for(keys)
        return [found.get(key, []) for key in keys]

    connectors = services.connectors
    return Context(
        services=services,
        records={system: _record_loader(conn) for system, conn in connectors.items()},
        links=DataLoader(load_fn=load_links),
        relations=Relations(
            projects=_relation_loaders(connectors, "projects_for"),
            invoices=_relation_loaders(connectors, "invoices_for"),
            documents=_relation_loaders(connectors, "documents_for"),
        ),
        today=today if today is not None else services.today(),
        request=request,
        response=response,
    )
