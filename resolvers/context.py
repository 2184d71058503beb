"""Per-request state: DataLoaders are built here, never at module level (they cache per user request)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from connectors import Connector, ConnectorError, SourceRecord, SystemName
from resolvers._services import Services
from xref import LinkInfo

RecordLoader = DataLoader[str, SourceRecord | None]


def _record_loader(connector: Connector) -> RecordLoader:
    async def load(keys: list[str]) -> list[SourceRecord | None | BaseException]:
        try:
            return list(await connector.fetch_many(keys))
        except ConnectorError as exc:
            # Every key of the batch fails the same way; only this system's fields go null.
            return [exc] * len(keys)

    return DataLoader(load_fn=load)


@dataclass
class Context:
    services: Services
    records: dict[SystemName, RecordLoader]
    links: DataLoader[str, list[LinkInfo]]
    request: Any = None
    response: Any = None
    extensions: dict[str, Any] = field(default_factory=dict)


def build_context(services: Services, request: Any = None, response: Any = None) -> Context:
    async def load_links(keys: list[str]) -> list[list[LinkInfo]]:
        found = await services.xref.links_for(keys)
        return [found.get(key, []) for key in keys]

    return Context(
        services=services,
        records={system: _record_loader(conn) for system, conn in services.connectors.items()},
        links=DataLoader(load_fn=load_links),
        request=request,
        response=response,
    )
