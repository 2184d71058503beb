"""convertLead: the seed 003 workflow. A closed lead is set up in project management and accounting.

Steps, in this order, each one final before the next starts:

1. Teamwork, then QuickBooks: a record of the customer there is kept (ALREADY_LINKED); else
   the preemptive search of that system finds one that is surely the same customer (a
   LINK-level candidate not linked to any golden customer yet) and it is linked (LINKED);
   else one is created with the attributes the ownership policy lets that system hold,
   taken from the customer's survivorship view (CREATED). A found or created record is
   linked in the index at once, before the next step, so a re-run of a conversion that
   stopped half-way sees it and creates nothing twice. (`Provisioner` is this step on its
   own: `c360 reconcile --fix` runs it for active customers missing in a system.)
2. The CRM record's status goes to active (UPDATED; QUEUED when the CRM is unreachable and
   the outbox applies it later; UNCHANGED when it already is). It goes last on purpose:
   "active" in the CRM then means "set up everywhere", and a conversion that stopped
   leaves a lead, which is the truth, and which a re-run finishes.

Why a re-run cannot create twice:
- a step that finished is in the index (ALREADY_LINKED on the next run);
- a create whose answer was lost is found by the next run's preemptive search (the new
  record carries the lead's own values, so it scores as the same customer), and in
  QuickBooks the create also carries a `requestid` derived from the customer id, so
  QuickBooks answers a repeat with the customer it already created;
- two conversions of one customer in this process run one after the other (the second
  finds everything linked). Across gateway processes the search and the requestid are
  the protection.

A converted customer (active, linked everywhere) converts again as a no-op: `LeadConverted`
with every step ALREADY_LINKED or UNCHANGED, so a client retrying after a lost answer gets
success. `NotALead` is for customers with no CRM record, or one that is inactive.
A failed step answers `ConversionFailed` naming the system; what was done is kept and the
answer is not stored under the idempotency key, so running it again (same key or none)
resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from connectors import (
    Connector,
    ConnectorError,
    CustomerStatus,
    DuplicateRecord,
    RecordChanges,
    SourceRecord,
    SystemName,
    create_request_id,
)
from resolvers._services import Services
from resolvers.errors import error_code
from resolvers.ownership import OwnershipPolicy
from resolvers.survivorship import DEFAULT_POLICY, Policy, ordered, unified
from resolvers.write_through import OwnWrites, WriteStatus
from resolvers.write_values import changes_to_json, set_attributes
from xref import Candidate, CustomerInfo, LinkInfo, XrefError, XrefService, find_candidates
from xref.engine import EngineSettings
from xref.fellegi_sunter import Decision

if TYPE_CHECKING:
    from resolvers.mutations import WriteServices

__all__ = [
    "CRM",
    "DECIDED_BY",
    "PROVISIONED",
    "Action",
    "ConversionLocks",
    "LinkedRecords",
    "Provisioned",
    "Provisioner",
    "Step",
    "StepFailed",
    "conversion_request_id",
    "convert_lead",
    "kept",
    "linkable",
    "values_for",
    "view_values",
]

#: Where the lead lives and its status is decided (seed 003).
CRM: Final = SystemName.SHAREPOINT
#: The systems a converted customer is set up in, in this order.
PROVISIONED: Final = (SystemName.TEAMWORK, SystemName.QUICKBOOKS)
#: Who made the links, as the index records it; not "matcher:..." so incremental matching keeps them.
DECIDED_BY: Final = "gateway:convertLead"
#: The view attributes copied into new records (survivorship.ATTRIBUTES, plus what only some systems hold).
_VIEW_ATTRIBUTES: Final = ("name", "email", "phone", "address", "website")
_POLICY_NAME: Final = {"person_name": "personName"}
#: Namespace of the stable create ids (any fixed UUID would do; it must never change).
_REQUEST_NAMESPACE: Final = uuid.UUID("5b0c7d1e-3f7a-4f43-9a57-c360c0de0003")
#: Candidates looked at per system search.
_SEARCH_LIMIT: Final = 10


class Action(StrEnum):
    CREATED = "CREATED"
    LINKED = "LINKED"
    ALREADY_LINKED = "ALREADY_LINKED"
    UPDATED = "UPDATED"
    UNCHANGED = "UNCHANGED"
    QUEUED = "QUEUED"


@dataclass(frozen=True, slots=True)
class Step:
    """What the conversion did in one system, for one record."""

    system: SystemName
    record_id: str
    action: Action
    #: Of a LINKED record: how sure the search was that it is this customer.
    confidence: float | None = None
    #: Of a QUEUED status change: the outbox entry that applies it.
    outbox_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"system": self.system.value, "recordId": self.record_id, "action": self.action.value,
                "confidence": self.confidence, "outboxId": self.outbox_id}


class StepFailed(Exception):
    """One step could not be done; the steps before it stay done."""

    def __init__(self, system: SystemName, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(f"{system.value}: {message}")
        self.system = system
        self.code = code
        self.message = message
        self.retryable = retryable


class ConversionLocks:
    """One lock per customer, so two conversions of it in this process run one after the other.

    A lock lives only while someone holds or waits for it.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, customer_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(customer_id, (asyncio.Lock(), 0))
        self._locks[customer_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[customer_id]
            if users <= 1:
                del self._locks[customer_id]
            else:
                self._locks[customer_id] = (lock, users - 1)


def kept(result: Mapping[str, Any]) -> bool:
    """A failed conversion is not replayed for its idempotency key: running it again resumes it."""
    return result.get("type") != "ConversionFailed"


def conversion_request_id(customer_id: str, system: SystemName) -> str:
    """The create id of `system`'s step for this customer: the same on every run of its conversion."""
    return uuid.uuid5(_REQUEST_NAMESPACE, f"{customer_id}/convertLead/{system.value}").hex


def _uncached(connector: Connector) -> Connector:
    """The connector under the read cache: the values copied into a new record must be the current ones."""
    inner = getattr(connector, "inner", None)
    return inner if inner is not None else connector


def view_values(records: Mapping[SystemName, Sequence[SourceRecord]], policy: Policy) -> RecordChanges:
    """The customer as the unified view shows it, as the values of a new, active record."""
    values: dict[str, Any] = {name: unified(records, name, policy) for name in _VIEW_ATTRIBUTES}
    person = next((r.person_name for r in ordered(records, policy.rule("name").priority) if r.person_name), None)
    return RecordChanges(**values, person_name=person, status=CustomerStatus.ACTIVE)


def values_for(system: SystemName, view: RecordChanges, ownership: OwnershipPolicy) -> RecordChanges:
    """The part of the view that `system` holds under the ownership policy (publish or consume)."""
    return RecordChanges(**{
        name: getattr(view, name) for name in set_attributes(view)
        if ownership.systems_to_write(_POLICY_NAME.get(name, name), [system])
    })


def linkable(candidates: Sequence[Candidate], system: SystemName,
             links: Mapping[str, Sequence[LinkInfo]]) -> Candidate | None:
    """The best candidate in `system` that is surely this customer and is nobody else's.

    That is a record in no customer yet, or alone in a customer of its own: the bulk match
    leaves a record it found no partner for in a golden customer of one, and taking it only
    retires that id (merged into this one, so a bookmark still resolves). A record whose
    customer holds other records is left alone: moving it would split or merge customers,
    which is a steward's decision, not a side effect of a conversion. `links` holds the
    candidates' customers' links.
    """
    for candidate in candidates:
        if candidate.decision is not Decision.LINK or candidate.best[0] != system:
            continue
        if candidate.customer_id is None:
            return candidate
        held = links.get(candidate.customer_id) or ()
        if [(link.system, link.record_id) for link in held] == [candidate.best]:
            return candidate
    return None


@dataclass
class LinkedRecords:
    """A customer's linked records as read live; a system that could not be read is kept with its error."""

    records: dict[SystemName, list[SourceRecord]] = field(default_factory=dict)
    unreadable: dict[SystemName, ConnectorError] = field(default_factory=dict)


@dataclass
class Provisioned:
    """What provisioning one system did: its steps, and the values of each record it created ("system:id")."""

    steps: list[Step] = field(default_factory=list)
    created: dict[str, RecordChanges] = field(default_factory=dict)


@dataclass(frozen=True)
class Provisioner:
    """Sets a customer up in one system, as convertLead's step does: keep, link an unclaimed match, or create.

    A record already linked there is kept (ALREADY_LINKED); else the system's search finds
    one that is surely this customer and nobody else's (`linkable`) and it is linked
    (LINKED); else one is created from the customer's view, with the attributes the
    ownership policy lets the system hold and the stable create id of `conversion_request_id`
    (CREATED). A found or created record is linked at once, so a re-run creates nothing
    twice. convertLead runs it per system before the CRM status; `c360 reconcile --fix`
    runs it alone for active customers missing in a system. Failures raise `StepFailed`.
    """

    xref: XrefService
    connectors: Mapping[SystemName, Connector]
    ownership: OwnershipPolicy
    own_writes: OwnWrites
    survivorship: Policy = DEFAULT_POLICY
    engine_settings: EngineSettings = field(default_factory=EngineSettings)
    region: str = "US"
    #: Who the index says made the links ("gateway:..."; never "matcher:...", so incremental matching keeps them).
    decided_by: str = DECIDED_BY
    #: The `createdBy` of a created record's link evidence.
    created_by: str = "convertLead"
    #: What a failed create tells the caller to run again once the cause is fixed.
    rerun: str = "convertLead"

    @classmethod
    def for_gateway(cls, services: Services, writes: WriteServices) -> Provisioner:
        return cls(xref=services.xref, connectors=services.connectors, ownership=writes.ownership,
                   own_writes=writes.write_through.own_writes, survivorship=services.survivorship,
                   engine_settings=services.engine_settings, region=services.phone_region)

    async def read(self, links: Sequence[LinkInfo]) -> LinkedRecords:
        """Every linked record, live (under the read cache); a system that fails is remembered, not raised."""
        found = LinkedRecords()
        by_system: dict[SystemName, list[str]] = {}
        for link in links:
            if link.system in self.connectors:
                by_system.setdefault(link.system, []).append(link.record_id)

        async def one(system: SystemName, ids: list[str]) -> None:
            try:
                fetched = await _uncached(self.connectors[system]).fetch_many(ids)
            except ConnectorError as exc:
                found.unreadable[system] = exc
                return
            found.records[system] = [r for r in fetched if r is not None]

        await asyncio.gather(*(one(system, ids) for system, ids in by_system.items()))
        return found

    def view(self, linked: LinkedRecords) -> RecordChanges:
        """The values for new records; only from a complete view, or they could differ between runs."""
        if linked.unreadable:
            system, exc = next(iter(linked.unreadable.items()))
            raise StepFailed(system, error_code(exc), f"could not read {system.value} record(s) of the customer to "
                             f"copy its values ({exc.message})", retryable=exc.transient)
        return view_values(linked.records, self.survivorship)

    async def provision(self, customer: CustomerInfo, system: SystemName, view: Callable[[], RecordChanges], *,
                        evidence_with: Sequence[LinkInfo]) -> Provisioned:
        """Keep, link or create the customer's record in `system`.

        `view` is called only when a record must be searched for or created (it may raise
        StepFailed); `evidence_with` are the records a LINKED record's evidence names.
        """
        done = Provisioned()
        existing = [link for link in customer.links if link.system == system]
        if existing:
            done.steps += [Step(system, link.record_id, Action.ALREADY_LINKED) for link in existing]
            return done
        values = view()
        found = await self.search(system, values)
        if found is not None:
            done.steps.append(await self.link(customer.id, system, found, evidence_with))
            return done
        created = values_for(system, values, self.ownership)
        step = await self.create(customer.id, system, created)
        done.steps.append(step)
        done.created[f"{system.value}:{step.record_id}"] = created
        return done

    async def search(self, system: SystemName, view: RecordChanges) -> Candidate | None:
        """This system's records that are surely the customer (one system: its failure is this step's)."""
        try:
            search = await find_candidates(
                {system: self.connectors[system]}, self.xref, name=view.name, email=view.email,
                phone=view.phone, address=view.address, website=view.website, region=self.region,
                settings=self.engine_settings, limit=_SEARCH_LIMIT,
            )
        except XrefError:
            return None  # nothing to search by (no name, email or phone): there is nothing to find either
        if system in search.unavailable:
            raise StepFailed(system, "SOURCE_UNAVAILABLE", f"could not search {system.value} for an existing record "
                             f"({search.unavailable[system]}); nothing was created there", retryable=True)
        owners = [c.customer_id for c in search.candidates if c.customer_id is not None]
        return linkable(search.candidates, system, await self.xref.links_for(owners) if owners else {})

    async def link(self, customer_id: str, system: SystemName, found: Candidate,
                   evidence_with: Sequence[LinkInfo]) -> Step:
        record_id = found.best[1]
        await self.xref.link_record(
            system, record_id, customer_id, confidence=found.confidence,
            evidence={"with": [f"{link.system.value}:{link.record_id}" for link in evidence_with],
                      "score": found.score, "attributes": {k: dict(v) for k, v in found.evidence.items()}},
            decided_by=self.decided_by,
        )
        return Step(system, record_id, Action.LINKED, confidence=found.confidence)

    async def create(self, customer_id: str, system: SystemName, values: RecordChanges) -> Step:
        try:
            with create_request_id(conversion_request_id(customer_id, system)):
                record = await self.connectors[system].create(values)
        except ConnectorError as exc:
            raise StepFailed(system, _code(exc), _create_failure(system, exc, self.rerun),
                             retryable=exc.transient) from exc
        self.own_writes.record(record)
        # Linked before anything else happens: a re-run must see this record, whatever fails next.
        await self.xref.link_record(
            system, record.id, customer_id, confidence=1.0,
            evidence={"matched": [], "createdBy": self.created_by}, decided_by=self.decided_by,
        )
        return Step(system, record.id, Action.CREATED)


@dataclass
class _Conversion:
    """One run of the workflow for one customer."""

    services: Services
    writes: WriteServices
    customer: CustomerInfo
    subject: str
    idempotency_key: str | None
    request_id: str | None
    steps: list[Step] = field(default_factory=list)
    created: dict[str, RecordChanges] = field(default_factory=dict)
    records: dict[SystemName, list[SourceRecord]] = field(default_factory=dict)
    unreadable: dict[SystemName, ConnectorError] = field(default_factory=dict)
    provisioner: Provisioner = field(init=False)

    def __post_init__(self) -> None:
        self.provisioner = Provisioner.for_gateway(self.services, self.writes)

    @property
    def links(self) -> tuple[LinkInfo, ...]:
        return self.customer.links

    def linked(self, system: SystemName) -> list[LinkInfo]:
        return [link for link in self.links if link.system == system]

    # --- reading ---------------------------------------------------------------------------

    async def read(self) -> None:
        """Every linked record, live; a system that fails is remembered, not fatal yet (maybe not needed)."""
        found = await self.provisioner.read(self.links)
        self.records, self.unreadable = found.records, found.unreadable

    def check_crm(self) -> None:
        """The lead itself must be readable: its status decides the last step."""
        error = self.unreadable.get(CRM)
        if error is not None:
            raise StepFailed(CRM, error_code(error), f"could not read the CRM record(s) ({error.message})",
                             retryable=error.transient)
        present = {r.id for r in self.records.get(CRM, [])}
        gone = [link.record_id for link in self.linked(CRM) if link.record_id not in present]
        if gone:
            raise StepFailed(CRM, "SOURCE_RECORD_NOT_FOUND", f"record(s) {', '.join(gone)} no longer exist in the "
                             "CRM; a steward should unlink them", retryable=False)

    def view(self) -> RecordChanges:
        """The values for new records; only from a complete view, or they could differ between runs."""
        return self.provisioner.view(LinkedRecords(self.records, self.unreadable))

    # --- provisioning ----------------------------------------------------------------------------

    async def provision(self, system: SystemName) -> None:
        done = await self.provisioner.provision(self.customer, system, self.view, evidence_with=self.linked(CRM))
        self.steps += done.steps
        self.created.update(done.created)

    # --- activation ------------------------------------------------------------------------------

    async def activate(self) -> None:
        """The CRM status goes to active, through write-through (version token, outbox, audit)."""
        crm = self.records.get(CRM, [])
        leads = [link for link in self.linked(CRM) if any(
            r.id == link.record_id and r.status is not CustomerStatus.ACTIVE for r in crm)]
        unchanged = [link for link in self.linked(CRM) if link not in leads]
        self.steps += [Step(CRM, link.record_id, Action.UNCHANGED) for link in unchanged]
        if not leads:
            return
        result = await self.writes.write_through.update(
            self.customer.id, leads, RecordChanges(status=CustomerStatus.ACTIVE), subject=self.subject,
            mutation="convertLead", idempotency_key=self.idempotency_key, request_id=self.request_id,
        )
        if result.conflict is not None:
            raise StepFailed(CRM, "CONFLICT", f"the status of {CRM.value} record {result.conflict.record_id} was "
                             "changed by someone else while it was converted; it was left as it is",
                             retryable=True)
        for outcome in result.outcomes:
            if outcome.status is WriteStatus.APPLIED:
                self.steps.append(Step(CRM, outcome.record_id, Action.UPDATED))
            elif outcome.status is WriteStatus.PENDING:
                self.steps.append(Step(CRM, outcome.record_id, Action.QUEUED, outbox_id=outcome.outbox_id))
        failed = next((o for o in result.outcomes if o.status is WriteStatus.FAILED), None)
        if failed is not None:
            raise StepFailed(CRM, failed.code or "SOURCE_ERROR", f"the status of record {failed.record_id} could "
                             f"not be set to active: {failed.error}", retryable=False)

    # --- the run -----------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        before = sorted(f"{link.system.value}:{link.record_id}" for link in self.links)
        try:
            self.check_crm()
            for system in PROVISIONED:
                if system in self.services.connectors:
                    await self.provision(system)
                    self.customer = await self._reload()
            await self.activate()
        except StepFailed as failure:
            audit_id = await self.audit(before, failure)
            return {"type": "ConversionFailed", "system": failure.system.value, "code": failure.code,
                    "retryable": failure.retryable, "steps": [s.to_json() for s in self.steps], "auditId": audit_id,
                    "message": _failure_message(failure, self.steps)}
        audit_id = await self.audit(before, None)
        return {"type": "LeadConverted", "customerId": self.customer.id, "auditId": audit_id,
                "steps": [s.to_json() for s in self.steps]}

    async def _reload(self) -> CustomerInfo:
        found = await self.services.xref.get(self.customer.id)
        return found if found is not None else self.customer

    async def audit(self, before: list[str], failure: StepFailed | None) -> int | None:
        """One entry per conversion that did something (the status change has its write-through entry too)."""
        done = [s for s in self.steps if s.action in (Action.CREATED, Action.LINKED, Action.UPDATED, Action.QUEUED)]
        if not done and failure is None:
            return None
        after = sorted({*before, *(f"{s.system.value}:{s.record_id}" for s in self.steps)})
        changes: list[dict[str, Any]] = [{"attribute": "links", "before": before, "after": after}]
        changes += [{"attribute": target, "before": None, "after": changes_to_json(values)}
                    for target, values in self.created.items()]
        outcomes: dict[str, dict[str, Any]] = {
            f"{s.system.value}:{s.record_id}": {"status": s.action.value, **s.to_json()} for s in self.steps
        }
        if failure is not None:
            outcomes[failure.system.value] = {"status": "FAILED", "system": failure.system.value,
                                              "error": failure.message, "code": failure.code}
        entry = await self.writes.audit.record(
            subject=self.subject, mutation="convertLead", mutation_id=uuid.uuid4().hex, customer_id=self.customer.id,
            idempotency_key=self.idempotency_key, request_id=self.request_id, changes=changes, outcomes=outcomes,
        )
        return entry.id


def _code(exc: ConnectorError) -> str:
    return "DUPLICATE_RECORD" if isinstance(exc, DuplicateRecord) else error_code(exc)


def _create_failure(system: SystemName, exc: ConnectorError, rerun: str = "convertLead") -> str:
    if isinstance(exc, DuplicateRecord):
        return (f"{system.value} already has a record with this name ({exc.message}); it belongs to another customer "
                "in the index or did not match closely enough to be linked automatically. Link it to this customer "
                f"(or merge the customers) and run {rerun} again")
    return f"{system.value} did not create the record: {exc.message}"


def _failure_message(failure: StepFailed, steps: Sequence[Step]) -> str:
    done = ", ".join(f"{s.system.value} {s.record_id} {s.action.value}" for s in steps) or "nothing"
    then = ("run convertLead again to finish it" if failure.retryable
            else "fix the cause, then run convertLead again to finish it")
    return (f"the conversion stopped at {failure.system.value}: {failure.message}. Done and kept: {done}; "
            f"{then} (nothing is created twice)")


async def convert_lead(
    services: Services,
    writes: WriteServices,
    locks: ConversionLocks,
    customer_id: str,
    *,
    subject: str,
    idempotency_key: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The JSON answer of convertLead (see the module docstring)."""
    found = await services.xref.get(customer_id)
    if found is None or not found.links:
        return {"type": "CustomerNotFound", "id": customer_id, "message": f"no customer has id {customer_id!r}"}
    async with locks.hold(found.id):
        customer = await services.xref.get(found.id)  # again, inside the lock: a conversion may have just linked
        if customer is None or not customer.links:
            return {"type": "CustomerNotFound", "id": customer_id, "message": f"no customer has id {customer_id!r}"}
        if not any(link.system == CRM for link in customer.links):
            return {"type": "NotALead", "id": customer.id, "status": None,
                    "message": f"customer {customer.id} has no CRM ({CRM.value}) record: there is no lead to convert"}
        conversion = _Conversion(services, writes, customer, subject, idempotency_key, request_id)
        await conversion.read()
        statuses = [r.status for r in conversion.records.get(CRM, [])]
        if statuses and all(s is CustomerStatus.INACTIVE for s in statuses):
            return {"type": "NotALead", "id": customer.id, "status": CustomerStatus.INACTIVE.value,
                    "message": f"customer {customer.id} is inactive in the CRM; reactivate it (updateCustomer "
                               "status) rather than converting it"}
        return await conversion.run()

