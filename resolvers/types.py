"""GraphQL types of the Customer 360 view (code-first; `schema.graphql` is printed from these)."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Optional, TypeAlias, TypeVar

import strawberry
from strawberry.dataloader import DataLoader

from connectors import Address as AddressRecord
from connectors import ConnectorError
from connectors import CustomerStatus as CustomerStatusValue
from connectors import PersonName as PersonNameRecord
from connectors import SourceRecord, SystemName
from resolvers import survivorship
from resolvers.context import Context
from resolvers.errors import bad_input, source_error
from resolvers.history import AuditConnection, PendingWrite, history_page, pending_writes_for
from resolvers.execution import context_only
from resolvers.pagination import PageInfo
from resolvers.relations import Document, Invoice, InvoiceFilter, Project, invoice_cursor, invoice_page
from xref import LinkInfo

System = strawberry.enum(SystemName, name="System", description="A source system that holds customer records.")
CustomerStatus = strawberry.enum(
    CustomerStatusValue, name="CustomerStatus", description="Where the customer is in its lifecycle."
)
Info = strawberry.Info[Context, None]
T = TypeVar("T")


@strawberry.type(description="A postal address as one system holds it.")
class Address:
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None

    @classmethod
    def from_record(cls, address: AddressRecord | None) -> Address | None:
        if address is None or address.is_empty():
            return None
        return cls(
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            state=address.state,
            postal_code=address.postal_code,
            country=address.country,
        )


@strawberry.type(description="A person's name, where a system holds one (e.g. a billing contact).")
class PersonName:
    given: str | None
    family: str | None
    full: str | None

    @classmethod
    def from_record(cls, name: PersonNameRecord | None) -> PersonName | None:
        if name is None or not name.full:
            return None
        return cls(given=name.given, family=name.family, full=name.full)


@strawberry.type(description="How one attribute compared in a match: its agreement level and the weight it added.")
class MatchEvidence:
    attribute: str
    level: str = strawberry.field(description="e.g. exact, high, low, disagree, missing.")
    weight: float = strawberry.field(description="Log-weight added to the score; the weights sum to the score.")


def match_evidence(attributes: object) -> list[MatchEvidence]:
    """Stored evidence {attribute: {level, weight}} as a list, strongest first; anything else gives []."""
    if not isinstance(attributes, Mapping):
        return []
    found = [
        MatchEvidence(attribute=str(name), level=str(value.get("level", "")), weight=float(value.get("weight", 0.0)))
        for name, value in attributes.items()
        if isinstance(value, Mapping)
    ]
    return sorted(found, key=lambda e: (-e.weight, e.attribute))


@strawberry.type(description="A link from the golden customer to one record in one system.")
class SourceRecordRef:
    system: System  # type: ignore[valid-type]
    id: strawberry.ID
    url: str | None = strawberry.field(description="Opens the record in that system's own UI.")
    confidence: float = strawberry.field(description="How sure the index is that this record is this customer (0-1).")
    decided_by: str = strawberry.field(description="The matcher rule or the person that made the link.")
    score: float | None = strawberry.field(
        default=None, description="Match score of the pair that attached this record (null for the first record or a steward link)."
    )
    evidence: list[MatchEvidence] = strawberry.field(
        default_factory=list, description="Per attribute, how the pair that attached this record compared."
    )


@strawberry.interface(description="Fields every system's record has, in canonical names.")
class SystemRecord:
    system: System  # type: ignore[valid-type]
    id: strawberry.ID
    url: str | None
    version: str | None = strawberry.field(description="The system's opaque concurrency token.")
    updated_at: datetime.datetime | None
    name: str | None
    email: str | None
    phone: str | None
    address: Address | None


def _common(record: SourceRecord) -> dict[str, object]:
    return {
        "system": record.system,
        "id": strawberry.ID(record.id),
        "url": record.url,
        "version": record.version,
        "updated_at": record.updated_at,
        "name": record.name,
        "email": record.email,
        "phone": record.phone,
        "address": Address.from_record(record.address),
    }


@strawberry.type(description="The customer as the CRM (SharePoint list) holds it.")
class CrmRecord(SystemRecord):
    status: CustomerStatus | None  # type: ignore[valid-type]

    @classmethod
    def from_record(cls, record: SourceRecord) -> CrmRecord:
        return cls(**_common(record), status=record.status)  # type: ignore[arg-type]


@strawberry.type(description="The customer as the project-management system (Teamwork) holds it.")
class ProjectManagementRecord(SystemRecord):
    website: str | None
    status: CustomerStatus | None  # type: ignore[valid-type]

    @classmethod
    def from_record(cls, record: SourceRecord) -> ProjectManagementRecord:
        return cls(**_common(record), website=record.website, status=record.status)  # type: ignore[arg-type]


@strawberry.type(description="The customer as the accounting system (QuickBooks Online) holds it.")
class BillingRecord(SystemRecord):
    person_name: PersonName | None
    status: CustomerStatus | None  # type: ignore[valid-type]
    balance: Decimal | None = strawberry.field(description="Open balance, in the customer's currency.")

    @classmethod
    def from_record(cls, record: SourceRecord) -> BillingRecord:
        return cls(
            **_common(record),  # type: ignore[arg-type]
            person_name=PersonName.from_record(record.person_name),
            status=record.status,
            balance=record.balance,
        )


def _score(evidence: Mapping[str, object]) -> float | None:
    score = evidence.get("score")
    return float(score) if isinstance(score, int | float) else None


@dataclass
class _Fetched:
    """The customer's linked records that loaded, and the systems that failed."""

    records: dict[SystemName, list[SourceRecord]]
    failures: dict[SystemName, ConnectorError]


R = TypeVar("R")
#: A value now (the data was prefetched) or an awaitable of it (a Customer built outside a root resolver).
MaybeAwaitable: TypeAlias = R | Awaitable[R]
#: Customer fields that read the linked records (the rest read the index or a relation loader).
RECORD_FIELDS = frozenset(
    {"name", "email", "phone", "address", "website", "conflicts", "status", "lifecycle", "balance", "crm",
     "projectManagement", "billing"}
)
#: Customer fields named after the relation they read (a `Relations` attribute of the request context).
RELATION_FIELDS = frozenset({"projects", "invoices", "documents"})


@strawberry.type(description="One real-world customer, combined live from every system that holds it.")
class Customer:
    """Fields are plain functions that return a value when the root resolver prefetched the data.

    Why: a page of 100 whole views would otherwise run ~1,500 coroutines through the
    executor's await machinery, which cost more CPU than the upstream calls. A root
    resolver calls `prefetch` for what the query selects (one batched load per system
    and relation); a Customer built anywhere else still works, its fields then return
    awaitables that load on demand through the same per-request loaders.
    """

    id: strawberry.ID = strawberry.field(description="Stable golden id; never reused for another customer.")
    links: strawberry.Private[list[LinkInfo]]
    _fetched: strawberry.Private[asyncio.Task[_Fetched] | None] = None
    _ready: strawberry.Private[_Fetched | None] = None
    _related_ready: strawberry.Private[dict[str, list[Any] | Exception] | None] = None

    async def _records(self, info: Info) -> _Fetched:
        # Several fields of one customer resolve concurrently; they share one fetch.
        if self._ready is not None:
            return self._ready
        if self._fetched is None:
            self._fetched = asyncio.ensure_future(_fetch_records(self.links, info.context))
        return await self._fetched

    def _with_records(self, info: Info, compute: Callable[[_Fetched], R]) -> MaybeAwaitable[R]:
        if self._ready is not None:
            return compute(self._ready)

        async def later() -> R:
            return compute(await self._records(info))

        return later()

    def _with_related(
        self, info: Info, relation: str, compute: Callable[[list[Any]], R]
    ) -> MaybeAwaitable[R]:
        ready = self._related_ready.get(relation) if self._related_ready is not None else None
        if isinstance(ready, Exception):
            raise ready
        if ready is not None:
            return compute(ready)

        async def later() -> R:
            return compute(await self._related(getattr(info.context.relations, relation)))

        return later()

    async def prefetch(self, info: Info, fields: AbstractSet[str]) -> None:
        """Loads what `fields` need (records, relations) so those fields answer without awaiting."""
        relations = sorted(fields & RELATION_FIELDS)
        needs_records = not fields.isdisjoint(RECORD_FIELDS)

        # A failure is kept for the field that needs it, never raised here: raised here it would
        # fail the root field (the whole page) instead of one nullable field of one customer.
        async def relation(name: str) -> None:
            try:
                items: list[Any] | Exception = await self._related(getattr(info.context.relations, name))
            except Exception as exc:  # noqa: BLE001 - re-raised by the field (see _with_related)
                items = exc
            if self._related_ready is None:
                self._related_ready = {}
            self._related_ready[name] = items

        async def records() -> None:
            try:
                self._ready = await self._records(info)
            except Exception:  # noqa: BLE001, S110 - `_fetched` holds it: every record field awaits it and fails
                pass

        await asyncio.gather(*(relation(r) for r in relations), *([records()] if needs_records else []))

    def _unified(self, info: Info, attribute: str) -> MaybeAwaitable[Any]:
        policy = info.context.services.survivorship
        return self._with_records(info, lambda f: survivorship.unified(f.records, attribute, policy))

    @strawberry.field(graphql_type=str | None, description="Unified name (survivorship policy `name`, by default accounting first).")
    @context_only
    def name(self, info: Info) -> MaybeAwaitable[str | None]:
        return self._unified(info, "name")

    @strawberry.field(graphql_type=str | None, description="Unified primary email.")
    @context_only
    def email(self, info: Info) -> MaybeAwaitable[str | None]:
        return self._unified(info, "email")

    @strawberry.field(graphql_type=str | None, description="Unified primary phone, as the winning system holds it.")
    @context_only
    def phone(self, info: Info) -> MaybeAwaitable[str | None]:
        return self._unified(info, "phone")

    @strawberry.field(graphql_type=Address | None, description="Unified postal (billing) address.")
    @context_only
    def address(self, info: Info) -> MaybeAwaitable[Address | None]:
        policy = info.context.services.survivorship
        return self._with_records(
            info, lambda f: Address.from_record(survivorship.unified(f.records, "address", policy))  # type: ignore[arg-type]
        )

    @strawberry.field(graphql_type=str | None, description="Unified website.")
    @context_only
    def website(self, info: Info) -> MaybeAwaitable[str | None]:
        return self._unified(info, "website")

    @strawberry.field(
        graphql_type=list["AttributeConflict"],
        description="Attributes on which the linked records disagree after normalization, with every value and "
        "the winner. Only systems that answered are compared; a failing system shows as an error on its own fields.",
    )
    @context_only
    def conflicts(self, info: Info) -> MaybeAwaitable[list[AttributeConflict]]:
        services = info.context.services

        def compute(fetched: _Fetched) -> list[AttributeConflict]:
            found = survivorship.conflicts(fetched.records, services.survivorship, region=services.phone_region)
            return [AttributeConflict.from_conflict(c) for c in found]

        return self._with_records(info, compute)

    @strawberry.field(
        graphql_type=CustomerStatus | None,  # type: ignore[valid-type]
        description="lead, active or inactive, from the CRM status and the accounting status.",
    )
    @context_only
    def status(self, info: Info) -> MaybeAwaitable[CustomerStatusValue | None]:
        return self._with_records(info, lambda f: survivorship.lifecycle(f.records))

    @strawberry.field(
        graphql_type=CustomerStatus | None,  # type: ignore[valid-type]
        description="lead -> active -> inactive, from the CRM status and the accounting Active flag; "
        "null with an error when one of those systems is down (the answer would be a guess).",
    )
    @context_only
    def lifecycle(self, info: Info) -> MaybeAwaitable[CustomerStatusValue | None]:
        def compute(fetched: _Fetched) -> CustomerStatusValue | None:
            for system in survivorship.LIFECYCLE_SYSTEMS:
                if system in fetched.failures:
                    raise source_error(fetched.failures[system])
            return survivorship.lifecycle(fetched.records)

        return self._with_records(info, compute)

    # --- relations ---------------------------------------------------------------------------

    async def _related(self, loaders: Mapping[SystemName, DataLoader[str, list[T]]]) -> list[T]:
        """Items of every linked record of the systems that hold this relation, through the request's loaders.

        A failing system fails this field only (nullable), with the same error as its per-system view.
        """
        keys: dict[SystemName, list[str]] = {}
        for link in self.links:
            if link.system in loaders:
                keys.setdefault(link.system, []).append(link.record_id)
        systems = list(keys)
        results: list[Any] = await asyncio.gather(
            *(loaders[s].load_many(keys[s]) for s in systems), return_exceptions=True
        )
        items: list[T] = []
        for result in results:
            if isinstance(result, ConnectorError):
                raise source_error(result)
            if isinstance(result, BaseException):
                raise result
            for per_record in result:
                items.extend(per_record)
        return items

    @strawberry.field(graphql_type=list[Project] | None, description="The customer's projects in the project-management system.")
    @context_only
    def projects(self, info: Info) -> MaybeAwaitable[list[Project] | None]:
        return self._with_related(info, "projects", lambda items: [Project.from_record(p) for p in items])

    @strawberry.field(
        graphql_type=Optional["InvoiceConnection"], description="The customer's invoices in the accounting system, newest first."
    )
    def invoices(
        self, info: Info, filter: InvoiceFilter | None = None, first: int = 20, after: str | None = None
    ) -> MaybeAwaitable[InvoiceConnection | None]:
        limit = info.context.services.max_page_size
        if not 1 <= first <= limit:
            raise bad_input(f"`first` must be between 1 and {limit}, got {first}", "first")
        today = info.context.today

        def compute(items: list[Any]) -> InvoiceConnection:
            invoices = [Invoice.from_record(i, today) for i in items]
            if filter is not None and filter.status:
                wanted = set(filter.status)
                invoices = [i for i in invoices if i.status in wanted]
            page, has_next = invoice_page(invoices, first, after)
            edges = [InvoiceEdge(cursor=invoice_cursor(i), node=i) for i in page]
            return InvoiceConnection(
                edges=edges,
                page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None),
                total_count=len(invoices),
            )

        return self._with_related(info, "invoices", compute)

    @strawberry.field(
        graphql_type=Decimal | None,
        description="Open balance owed: the sum of the accounting records' balances (null when no linked "
        "accounting record holds one).",
    )
    @context_only
    def balance(self, info: Info) -> MaybeAwaitable[Decimal | None]:
        linked = {link.system for link in self.links}
        accounting = [s for s in info.context.relations.invoices if s in linked]

        def compute(fetched: _Fetched) -> Decimal | None:
            for system in accounting:
                if system in fetched.failures:
                    raise source_error(fetched.failures[system])
            balances = [r.balance for s in accounting for r in fetched.records.get(s, []) if r.balance is not None]
            return sum(balances, Decimal(0)) if balances else None

        return self._with_records(info, compute)

    @strawberry.field(
        graphql_type=list[Document] | None, description="The customer's documents (proposals, SOWs, contracts) in the CRM's library."
    )
    @context_only
    def documents(self, info: Info) -> MaybeAwaitable[list[Document] | None]:
        return self._with_related(info, "documents", lambda items: [Document.from_record(d) for d in items])

    @strawberry.field(description="Every linked source record: which system, which id, and why it is linked.")
    @context_only
    def source_records(self, info: Info) -> list[SourceRecordRef]:
        connectors = info.context.services.connectors
        return [
            SourceRecordRef(
                system=link.system,
                id=strawberry.ID(link.record_id),
                url=connectors[link.system].record_url(link.record_id) if link.system in connectors else None,
                confidence=link.confidence,
                decided_by=link.decided_by,
                score=_score(link.evidence),
                evidence=match_evidence(link.evidence.get("attributes")),
            )
            for link in self.links
        ]

    def _system_view(
        self, info: Info, system: SystemName, build: Callable[[SourceRecord], R]
    ) -> MaybeAwaitable[list[R]]:
        def compute(fetched: _Fetched) -> list[R]:
            if system in fetched.failures:
                raise source_error(fetched.failures[system])
            return [build(r) for r in fetched.records.get(system, [])]

        return self._with_records(info, compute)

    @strawberry.field(
        graphql_type=list[CrmRecord] | None,
        description="The CRM's records of this customer (usually one; more means duplicates).",
    )
    @context_only
    def crm(self, info: Info) -> MaybeAwaitable[list[CrmRecord]]:
        return self._system_view(info, SystemName.SHAREPOINT, CrmRecord.from_record)

    @strawberry.field(
        graphql_type=list[ProjectManagementRecord] | None,
        description="The project-management system's records of this customer.",
    )
    @context_only
    def project_management(self, info: Info) -> MaybeAwaitable[list[ProjectManagementRecord]]:
        return self._system_view(info, SystemName.TEAMWORK, ProjectManagementRecord.from_record)

    @strawberry.field(
        graphql_type=list[BillingRecord] | None, description="The accounting system's records of this customer."
    )
    @context_only
    def billing(self, info: Info) -> MaybeAwaitable[list[BillingRecord]]:
        return self._system_view(info, SystemName.QUICKBOOKS, BillingRecord.from_record)

    # --- writes (the gateway's own outbox and audit log) -------------------------------------

    @strawberry.field(description="Writes to this customer's records that a system has not confirmed yet "
                      "(retried by the outbox), next due first. Empty on a read-only gateway.")
    async def pending_writes(self, info: Info) -> list[PendingWrite]:
        return await pending_writes_for(info.context.services, str(self.id))

    @strawberry.field(description="Changes made to this customer through the gateway, newest first (the audit "
                      "log). Empty on a read-only gateway.")
    async def history(self, info: Info, first: int = 20, after: str | None = None) -> AuditConnection:
        return await history_page(info.context.services, str(self.id), first, after)


async def prefetch(customers: Sequence[Customer], info: Info, fields: AbstractSet[str]) -> None:
    """Loads, for every customer at once, what the selected fields need (see `Customer`)."""
    if fields.isdisjoint(RECORD_FIELDS) and fields.isdisjoint(RELATION_FIELDS):
        return
    await asyncio.gather(*(c.prefetch(info, fields) for c in customers))


async def _fetch_records(links: list[LinkInfo], context: Context) -> _Fetched:
    by_system: dict[SystemName, list[str]] = {}
    for link in links:
        by_system.setdefault(link.system, []).append(link.record_id)

    async def load(system: SystemName, ids: list[str]) -> list[SourceRecord] | ConnectorError:
        loader = context.records.get(system)
        if loader is None:
            return []
        try:
            return [r for r in await loader.load_many(ids) if r is not None]
        except ConnectorError as exc:
            return exc

    systems = list(by_system)
    results = await asyncio.gather(*(load(s, by_system[s]) for s in systems))
    fetched = _Fetched(records={}, failures={})
    for system, result in zip(systems, results):
        if isinstance(result, ConnectorError):
            fetched.failures[system] = result
        else:
            fetched.records[system] = result
    return fetched


@strawberry.type(description="One system's value of a conflicting attribute.")
class ConflictValue:
    system: System  # type: ignore[valid-type]
    record_id: strawberry.ID
    value: str = strawberry.field(description="As the system holds it (an address on one line).")

    @classmethod
    def from_value(cls, value: survivorship.ConflictValue) -> ConflictValue:
        return cls(system=value.system, record_id=strawberry.ID(value.record_id), value=_as_text(value.value))


def _as_text(value: object) -> str:
    if isinstance(value, AddressRecord):
        parts = (value.line1, value.line2, value.city, " ".join(p for p in (value.state, value.postal_code) if p),
                 value.country)
        return ", ".join(p for p in parts if p)
    return str(value)


@strawberry.type(description="An attribute on which the customer's linked records disagree.")
class AttributeConflict:
    attribute: str = strawberry.field(description="name, email, phone, address or website.")
    values: list[ConflictValue] = strawberry.field(description="Every system's value, in the policy's priority order.")
    winner: ConflictValue | None = strawberry.field(description="The value the survivorship policy chose.")

    @classmethod
    def from_conflict(cls, conflict: survivorship.Conflict) -> AttributeConflict:
        return cls(
            attribute=conflict.attribute,
            values=[ConflictValue.from_value(v) for v in conflict.values],
            winner=ConflictValue.from_value(conflict.winner) if conflict.winner else None,
        )


@strawberry.type
class InvoiceEdge:
    cursor: str
    node: Invoice


@strawberry.type(description="A page of a customer's invoices, newest first (Relay connection).")
class InvoiceConnection:
    edges: list[InvoiceEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Invoices matching the filter.")


@strawberry.input(description="Which customers to list; every given part must hold (AND).")
class CustomerFilter:
    status: list[CustomerStatus] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Lifecycle status, any of these (live data: the list is scanned)."
    )
    system: list[System] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Linked to every one of these systems (answered by the index)."
    )
    search: str | None = strawberry.field(default=None, description="Name, email or phone; matched live in every system.")
    has_open_invoices: bool | None = strawberry.field(
        default=None, description="Has (true) or has no (false) invoice with a balance (live data: the list is scanned)."
    )


@strawberry.type
class CustomerEdge:
    cursor: str
    node: Customer


@strawberry.type(description="A page of customers (Relay connection).")
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: PageInfo
    total_count: int | None = strawberry.field(description="Customers matching, when cheaply known.")

