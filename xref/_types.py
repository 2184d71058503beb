"""Read-only views of the index handed to callers (resolvers, CLI): plain frozen dataclasses, no ORM rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors import SystemName


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """One source record linked to a golden customer, with why and by whom."""

    customer_id: str
    system: SystemName
    record_id: str
    confidence: float
    evidence: Mapping[str, Any] = field(hash=False)
    decided_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> tuple[SystemName, str]:
        return (self.system, self.record_id)


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    """A golden customer and its linked records (sorted by system, then record id)."""

    id: str
    created_at: datetime
    links: tuple[LinkInfo, ...]
    #: Set when the customer was retired with nothing to merge into (its records are gone).
    retired_at: datetime | None = None
    #: Ids followed through `merged_into` to reach this one (empty when asked for directly).
    merged_from: tuple[str, ...] = ()

    @property
    def systems(self) -> frozenset[SystemName]:
        return frozenset(link.system for link in self.links)


@dataclass(frozen=True, slots=True)
class CustomerPage:
    """One page of customers in golden-id order; pass `end_cursor` as `after` for the next."""

    customers: tuple[CustomerInfo, ...]
    end_cursor: str | None
    has_next_page: bool
    #: Customers matching the filter across all pages.
    total: int


@dataclass(frozen=True, slots=True)
class LinkChange:
    """One link a run adds, removes or moves: `before`/`after` are golden ids (None: unlinked)."""

    kind: str  # "add", "remove" or "move"
    system: SystemName
    record_id: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What `XrefService.apply_clusters` changed."""

    links_added: int = 0
    links_removed: int = 0
    #: Links that now point at another golden customer.
    links_moved: int = 0
    #: Links kept on their customer but with new evidence or confidence.
    links_updated: int = 0
    links_unchanged: int = 0
    customers_created: int = 0
    customers_retired: int = 0
    #: With `dry_run`: each link that would be added, removed or moved (ids of new customers are provisional).
    changes: tuple[LinkChange, ...] = ()

    @property
    def changed(self) -> bool:
        return any(
            (self.links_added, self.links_removed, self.links_moved, self.links_updated,
             self.customers_created, self.customers_retired)
        )
