"""The one small protocol every system connector implements (architecture.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from connectors._record import RecordChanges, SourceRecord, SystemName


@runtime_checkable
class Connector(Protocol):
    """A customer-holding system, seen through canonical records."""

    system: SystemName
    #: True when the system itself refuses a write carrying a stale version (Graph ETag,
    #: QuickBooks SyncToken). False when the connector can only guard a write by reading the
    #: record first and comparing (Teamwork): there the guard costs a sequential call.
    conditional_writes: bool
    #: Attributes no two records of the system may share (QuickBooks DisplayName: "name"). A
    #: customer with two records there gets such a value written to one of them only.
    unique_attributes: frozenset[str]

    async def fetch(self, record_id: str) -> SourceRecord:
        """One record; raises RecordNotFound."""
        ...

    async def fetch_many(self, record_ids: Sequence[str]) -> list[SourceRecord | None]:
        """Records in key order, None where absent, batched by the system's own limits."""
        ...

    def iterate(self) -> AsyncIterator[SourceRecord]:
        """Every customer record, following the system's paging."""
        ...

    async def search(
        self, *, name: str | None = None, email: str | None = None, phone: str | None = None
    ) -> list[SourceRecord]:
        """Candidates by any of the given attributes (union of the matches)."""
        ...

    async def create(self, changes: RecordChanges) -> SourceRecord: ...

    async def update(self, record_id: str, version: str | None, changes: RecordChanges) -> SourceRecord:
        """Write `changes` guarded by `version`; raises VersionConflict when it is stale."""
        ...

    def record_url(self, record_id: str) -> str:
        """Where a person opens this record in the system's own UI."""
        ...

    async def aclose(self) -> None: ...
