"""In-memory connectors for tests that need records but not a system (no HTTP, no sandbox).

    conn = FakeConnector(SystemName.TEAMWORK, [make_record("teamwork", "1", email="a@x.com")])
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from connectors import (
    Address,
    PersonName,
    RecordChanges,
    RecordNotFound,
    SourceRecord,
    SystemName,
    VersionConflict,
)
from connectors._record import with_changes
from xref import CustomerInfo, CustomerPage, LinkInfo

__all__ = ["Billing", "FakeConnector", "FakeXref", "Library", "Projects", "RelatedFake", "make_record"]


def make_record(
    system: SystemName | str = SystemName.SHAREPOINT,
    record_id: str | int = "1",
    *,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    postal_code: str | None = None,
    given: str | None = None,
    family: str | None = None,
    version: str | None = "1",
    street: str | None = None,
    city: str | None = None,
    state: str | None = None,
    website: str | None = None,
) -> SourceRecord:
    """A canonical record with only what the test cares about set."""
    has_address = postal_code or street or city or state
    return SourceRecord(
        system=SystemName(system),
        id=str(record_id),
        version=version,
        name=name,
        person_name=PersonName(given, family) if given or family else None,
        email=email,
        phone=phone,
        address=Address(line1=street, city=city, state=state, postal_code=postal_code) if has_address else None,
        website=website,
    )


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


class FakeConnector:
    """A Connector over a dict of records; `fail_with` makes `iterate` raise after `fail_after` records.

    `search_fail_with` makes `search` raise (a system down for live look-ups).
    """

    conditional_writes = True
    unique_attributes: frozenset[str] = frozenset()

    def __init__(
        self,
        system: SystemName | str,
        records: Iterable[SourceRecord] = (),
        *,
        page_size: int = 100,
        fail_with: Exception | None = None,
        fail_after: int = 0,
        search_fail_with: Exception | None = None,
    ) -> None:
        self.system = SystemName(system)
        self.records: dict[str, SourceRecord] = {}
        for record in records:
            if record.system != self.system:
                raise ValueError(f"{record.key} given to the {self.system} fake")
            self.records[record.id] = record
        self.page_size = page_size
        self.fail_with = fail_with
        self.fail_after = fail_after
        self.search_fail_with = search_fail_with
        self.fetch_many_calls: list[list[str]] = []
        self.search_calls: list[dict[str, str | None]] = []
        self._ids = itertools.count(1 + max((int(i) for i in self.records if i.isdigit()), default=0))

    async def fetch(self, record_id: str) -> SourceRecord:
        try:
            return self.records[record_id]
        except KeyError:
            raise RecordNotFound(self.system, f"no record {record_id}") from None

    async def fetch_many(self, record_ids: Sequence[str]) -> list[SourceRecord | None]:
        self.fetch_many_calls.append(list(record_ids))
        return [self.records.get(record_id) for record_id in record_ids]

    async def iterate(self) -> AsyncIterator[SourceRecord]:
        for count, record in enumerate(list(self.records.values())):
            if self.fail_with is not None and count >= self.fail_after:
                raise self.fail_with
            yield record
        if self.fail_with is not None and len(self.records) <= self.fail_after:
            raise self.fail_with

    async def search(
        self, *, name: str | None = None, email: str | None = None, phone: str | None = None
    ) -> list[SourceRecord]:
        """Union of name (substring), email (ignoring case) and phone (same last ten digits) matches.

        `search_fail_with` makes it raise instead, as a system that is down would.
        """
        self.search_calls.append({"name": name, "email": email, "phone": phone})
        if self.search_fail_with is not None:
            raise self.search_fail_with
        wanted_phone = _digits(phone)[-10:] if phone else ""

        def same_phone(other: str | None) -> bool:
            if not phone or not other:
                return False
            return other == phone or (len(wanted_phone) >= 7 and _digits(other)[-10:] == wanted_phone)

        def hit(record: SourceRecord) -> bool:
            return bool(
                (name and record.name and name.casefold() in record.name.casefold())
                or (email and record.email and email.casefold() == record.email.casefold())
                or same_phone(record.phone)
            )

        return [record for record in self.records.values() if hit(record)]

    async def create(self, changes: RecordChanges) -> SourceRecord:
        record = with_changes(SourceRecord(system=self.system, id=str(next(self._ids)), version="1"), changes)
        self.records[record.id] = record
        return record

    async def update(self, record_id: str, version: str | None, changes: RecordChanges) -> SourceRecord:
        current = await self.fetch(record_id)
        if version != current.version:
            raise VersionConflict(self.system, f"record {record_id} is at version {current.version}")
        updated = replace(with_changes(current, changes), version=str(int(current.version or "0") + 1))
        self.records[record_id] = updated
        return updated

    def record_url(self, record_id: str) -> str:
        return f"https://{self.system}.invalid/records/{record_id}"

    async def aclose(self) -> None:
        return None


#: A small mixed table the bulk and steward tests share: matches across systems, a duplicate, a loner.
SAMPLE_RECORDS = [
    # Acme in all three systems, each typed differently.
    make_record(SystemName.SHAREPOINT, "1", name="Acme, Inc.", email="ap@acme.com", postal_code="94213"),
    make_record(SystemName.TEAMWORK, "10", name="ACME", phone="(415) 444-6538", postal_code="94213-0042"),
    make_record(SystemName.QUICKBOOKS, "100", name="Acme Incorporated", email=" AP@ACME.COM", phone="415.444.6538"),
    # Bill's in SharePoint and QuickBooks, by phone.
    make_record(SystemName.SHAREPOINT, "2", name="Bill's Windsurf Shop", phone="+1 650 555 0100"),
    make_record(SystemName.QUICKBOOKS, "101", name="Bills Windsurf Shop LLC", phone="650-555-0100 x3"),
    # Typed into SharePoint twice.
    make_record(SystemName.SHAREPOINT, "3", name="Zed Co", email="zed@zed.io"),
    make_record(SystemName.SHAREPOINT, "4", name="Zed Company", email="Zed@zed.io"),
    # Only in Teamwork.
    make_record(SystemName.TEAMWORK, "11", name="Lonely Ltd"),
]


class RelatedFake(FakeConnector):
    """A fake holding one relation, counting its calls; `relation_fails`/`fetch_fails` make them raise."""

    def __init__(
        self,
        system: SystemName,
        records: Sequence[SourceRecord],
        related: Mapping[str, list[Any]] | None = None,
        *,
        relation_fails: Exception | None = None,
        fetch_fails: Exception | None = None,
    ) -> None:
        super().__init__(system, records)
        self.related = dict(related or {})
        self.relation_calls: list[list[str]] = []
        self.relation_fails = relation_fails
        self.fetch_fails = fetch_fails

    async def fetch_many(self, record_ids: Sequence[str]) -> list[SourceRecord | None]:
        if self.fetch_fails is not None:
            raise self.fetch_fails
        return await super().fetch_many(record_ids)

    async def _relation(self, ids: Sequence[str]) -> dict[str, list[Any]]:
        self.relation_calls.append(list(ids))
        if self.relation_fails is not None:
            raise self.relation_fails
        return {i: list(self.related.get(i, [])) for i in ids}


class Billing(RelatedFake):
    async def invoices_for(self, ids: Sequence[str]) -> dict[str, list[Any]]:
        return await self._relation(ids)


class Projects(RelatedFake):
    async def projects_for(self, ids: Sequence[str]) -> dict[str, list[Any]]:
        return await self._relation(ids)


class Library(RelatedFake):
    async def documents_for(self, ids: Sequence[str]) -> dict[str, list[Any]]:
        return await self._relation(ids)


class FakeXref:
    """The index look-ups the Customer resolvers use, over fixed customers."""

    generation = 0

    def __init__(self, customers: Sequence[CustomerInfo]) -> None:
        self.customers = {c.id: c for c in customers}

    async def get(self, customer_id: str) -> CustomerInfo | None:
        return self.customers.get(customer_id)

    async def list_customers(self, first: int, after: str | None = None, systems: Any = None) -> CustomerPage:
        found = tuple(self.customers.values())[:first]
        return CustomerPage(customers=found, end_cursor=None, has_next_page=False, total=len(found))

    async def links_for(self, ids: Sequence[str]) -> dict[str, list[LinkInfo]]:
        return {i: list(self.customers[i].links) for i in ids if i in self.customers}

    async def customers_for(self, keys: Sequence[tuple[SystemName, str]]) -> dict[tuple[SystemName, str], str]:
        owners = {(link.system, link.record_id): c.id for c in self.customers.values() for link in c.links}
        return {key: owners[key] for key in keys if key in owners}
