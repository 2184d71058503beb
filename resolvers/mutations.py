"""Customer mutations: write-through updates with typed results a client can switch on.

Every outcome is a member of a result union, never an exception: what happened in each
system is data the caller needs (APPLIED, PENDING, FAILED...), not an error to parse.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from connectors import Address as AddressValue
from connectors import CustomerStatus as CustomerStatusValue
from connectors import RecordChanges, SystemName, request_id_var
from resolvers import convert_lead as conversion
from resolvers import create_customer as creation
from resolvers.candidates import (
    MatchCandidate,
    UnavailableSystem,
    candidate_from_json,
    graphql_candidates,
    unavailable_systems,
)
from resolvers.idempotent import once
from resolvers.input_validation import validate_customer_input
from resolvers.ownership import OwnershipPolicy
from resolvers.subject import current_subject
from resolvers.types import Customer, CustomerStatus, System
from resolvers.write_through import WriteResult, WriteStatus, WriteThrough
from resolvers.write_values import changes_to_json, value_to_json
from xref import AuditLog, IdempotencyStore, Outbox

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class WriteServices:
    """What mutations need besides the read services; None on a read-only gateway."""

    write_through: WriteThrough
    idempotency: IdempotencyStore
    outbox: Outbox
    audit: AuditLog
    ownership: OwnershipPolicy
    #: Conversions of one customer in this process run one at a time.
    conversions: conversion.ConversionLocks = field(default_factory=conversion.ConversionLocks)


# --- inputs -------------------------------------------------------------------------------


@strawberry.input(description="A postal address to write; every part optional (a blank part clears it).")
class CustomerAddressInput:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = strawberry.field(default=None, description="State or province code (or its name).")
    postal_code: str | None = None
    country: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2 code (or its name).")


@strawberry.input(description="Customer attributes to set; an omitted attribute is left as it is.")
class CustomerInput:
    name: str | None = None
    email: str | None = strawberry.field(default=None, description='"" clears it.')
    phone: str | None = strawberry.field(default=None, description='"" clears it.')
    website: str | None = strawberry.field(default=None, description='"" clears it.')
    status: CustomerStatus | None = None  # type: ignore[valid-type]
    address: CustomerAddressInput | None = None

    def to_changes(self) -> RecordChanges:
        address = None
        if self.address is not None:
            a = self.address
            address = AddressValue(line1=a.line1, line2=a.line2, city=a.city, state=a.state,
                                   postal_code=a.postal_code, country=a.country)
        return RecordChanges(
            name=self.name, email=self.email, phone=self.phone, website=self.website,
            status=CustomerStatusValue(self.status.value) if self.status is not None else None,
            address=address,
        )


# --- results ------------------------------------------------------------------------------


WriteStatusEnum = strawberry.enum(WriteStatus, name="WriteStatus", description=(
    "APPLIED: the system holds the change. PENDING: the system was unreachable or throttling; the change "
    "waits in the outbox and is retried until it applies. FAILED: the system refused it. COMPENSATED: it was "
    "applied, then put back because another system failed the mutation. CANCELLED: it was queued, then dropped "
    "for the same reason."))


@strawberry.type(description="What one linked record's system did with the change.")
class SystemWriteOutcome:
    system: System  # type: ignore[valid-type]
    record_id: strawberry.ID
    status: WriteStatusEnum  # type: ignore[valid-type]
    attributes: list[str] = strawberry.field(description="The attributes written to this system (ownership policy).")
    error: str | None = None
    code: str | None = strawberry.field(default=None, description="SOURCE_UNAVAILABLE, SOURCE_THROTTLED, "
                                        "SOURCE_TIMEOUT, SOURCE_REJECTED, CONFLICT...")
    outbox_id: strawberry.ID | None = strawberry.field(default=None, description="The queued write, when PENDING.")


@strawberry.type(description="One problem with the input: where it is and what is wrong.")
class InputProblem:
    path: list[str]
    code: str
    message: str
    system: System | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="The system whose limit the value breaks, for limit problems.")


@strawberry.type(description="The customer was changed; `outcomes` says how in each system.")
class CustomerUpdated:
    customer: Customer
    outcomes: list[SystemWriteOutcome]
    audit_id: strawberry.ID | None
    replayed: bool = strawberry.field(description="True when this is the stored answer to an earlier request "
                                      "with the same idempotency key (nothing was written again).")


@strawberry.type(description="The input has problems; nothing was sent to any system. Every problem is listed.")
class InvalidInput:
    message: str
    problems: list[InputProblem]


@strawberry.type(description="Someone else changed an attribute this mutation writes; nothing was changed.")
class ConflictError:
    message: str
    attribute: str
    system: System  # type: ignore[valid-type]
    record_id: strawberry.ID
    ours: str | None = strawberry.field(description="The value this mutation wanted to write (JSON for addresses).")
    theirs: str | None = strawberry.field(description="The value the system holds now (JSON for addresses).")
    outcomes: list[SystemWriteOutcome]


@strawberry.type(description="A system refused the change for good; the others were put back. See `outcomes`.")
class WriteFailed:
    message: str
    outcomes: list[SystemWriteOutcome]
    failed_system: System | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="createCustomer: the system that did not create the record. (Not `system`: a "
        "union member's `system` is non-null, and GraphQL refuses one name with two types in a selection.)")
    code: str | None = strawberry.field(default=None, description="createCustomer: SOURCE_UNAVAILABLE, "
                                        "SOURCE_THROTTLED, SOURCE_TIMEOUT (retry later), SOURCE_ERROR...")


@strawberry.type(description="No customer has this id.")
class CustomerNotFound:
    message: str
    id: strawberry.ID


@strawberry.type(description="The idempotency key was already used for a different request.")
class IdempotencyKeyReused:
    message: str
    key: str


@strawberry.type(description="A request with the same idempotency key is still running; retry later.")
class WriteInProgress:
    message: str
    key: str


@strawberry.type(description="The customer was created in the CRM (as a lead unless the input said otherwise) "
                 "and indexed under a golden id of its own.")
class CustomerCreated:
    customer: Customer
    system: System  # type: ignore[valid-type]
    record_id: strawberry.ID = strawberry.field(description="The new record in `system`.")
    attributes: list[str] = strawberry.field(description="The attributes written to the new record.")
    audit_id: strawberry.ID | None
    unsearched: list[UnavailableSystem] = strawberry.field(
        description="Systems the preemptive search could not reach: a duplicate there went unnoticed.")
    replayed: bool = strawberry.field(description="True when this is the stored answer to an earlier request "
                                      "with the same idempotency key (nothing was written again).")


@strawberry.type(description="Existing customers look like the one to create, so nothing was created. Use one of "
                 "them, or send `allowDuplicate: true` to create it anyway.")
class PossibleDuplicate:
    message: str
    candidates: list[MatchCandidate] = strawberry.field(
        description="Best first; each scored LINK or REVIEW against the input (what a steward would look at).")
    unsearched: list[UnavailableSystem]


CreateCustomerResult = Annotated[
    CustomerCreated | PossibleDuplicate | InvalidInput | WriteFailed | IdempotencyKeyReused | WriteInProgress,
    strawberry.union("CreateCustomerResult"),
]

ConversionAction = strawberry.enum(conversion.Action, name="ConversionAction", description=(
    "CREATED: a new record was created in the system. LINKED: the system already had the customer (a sure match "
    "no other customer holds) and it was linked. ALREADY_LINKED: the customer was linked there before. UPDATED: "
    "the CRM status was set to active. UNCHANGED: the CRM status already was active. QUEUED: the CRM was "
    "unreachable; the status change waits in the outbox and is applied when it answers."))


@strawberry.type(description="What convertLead did in one system, for one record.")
class ConversionStep:
    system: System  # type: ignore[valid-type]
    record_id: strawberry.ID
    action: ConversionAction  # type: ignore[valid-type]
    confidence: float | None = strawberry.field(default=None, description="LINKED: how sure the search was.")
    outbox_id: strawberry.ID | None = strawberry.field(default=None, description="QUEUED: the outbox entry.")


@strawberry.type(description="The lead is active in the CRM and set up in project management and accounting.")
class LeadConverted:
    customer: Customer
    steps: list[ConversionStep] = strawberry.field(description="In the order they ran: Teamwork, QuickBooks, CRM.")
    audit_id: strawberry.ID | None = strawberry.field(description="Null when nothing had to be done.")
    replayed: bool = strawberry.field(description="True when this is the stored answer to an earlier request "
                                      "with the same idempotency key (nothing was written again).")


@strawberry.type(description="The customer has no CRM record, or the CRM says it is inactive: nothing to convert.")
class NotALead:
    message: str
    id: strawberry.ID
    status: CustomerStatus | None  # type: ignore[valid-type]


@strawberry.type(description="A step of the conversion failed. The steps before it are done and kept (linked in "
                 "the index); running convertLead again resumes at the failed step and creates nothing twice.")
class ConversionFailed:
    message: str
    system: System  # type: ignore[valid-type]
    code: str = strawberry.field(description="SOURCE_UNAVAILABLE, SOURCE_THROTTLED, SOURCE_TIMEOUT, CONFLICT "
                                 "(retry), DUPLICATE_RECORD, SOURCE_ERROR, SOURCE_RECORD_NOT_FOUND (fix first)...")
    retryable: bool = strawberry.field(description="True when running it again as it is may succeed.")
    steps: list[ConversionStep] = strawberry.field(description="The steps done before the failure.")
    audit_id: strawberry.ID | None


ConvertLeadResult = Annotated[
    LeadConverted | CustomerNotFound | NotALead | ConversionFailed | IdempotencyKeyReused | WriteInProgress,
    strawberry.union("ConvertLeadResult"),
]

UpdateCustomerResult = Annotated[
    CustomerUpdated | InvalidInput | ConflictError | WriteFailed | CustomerNotFound | IdempotencyKeyReused
    | WriteInProgress,
    strawberry.union("UpdateCustomerResult"),
]


# --- JSON form of results (stored for idempotent replays) ---------------------------------------


def _json_text(value: Any) -> str | None:
    value = value_to_json(value)
    return value if value is None or isinstance(value, str) else json.dumps(value, sort_keys=True)


def write_result_json(result: WriteResult) -> dict[str, Any]:
    outcomes = [o.to_json() for o in result.outcomes]
    if result.conflict is not None:
        c = result.conflict
        return {"type": "ConflictError", "outcomes": outcomes, "attribute": c.attribute, "system": c.system.value,
                "recordId": c.record_id, "ours": _json_text(c.ours), "theirs": _json_text(c.theirs),
                "message": f"{c.attribute} of {c.system.value} record {c.record_id} was changed by someone else "
                           "since it was read; nothing was changed. Read the customer again and decide."}
    if result.failed:
        failed = [o for o in result.outcomes if o.status is WriteStatus.FAILED]
        reasons = "; ".join(f"{o.system.value} {o.record_id}: {o.error}" for o in failed)
        return {"type": "WriteFailed", "outcomes": outcomes,
                "message": f"the change was refused ({reasons}); the other systems were put back"}
    return {"type": "CustomerUpdated", "customerId": result.customer_id, "outcomes": outcomes,
            "auditId": result.audit_id}


def _outcomes(data: list[dict[str, Any]]) -> list[SystemWriteOutcome]:
    return [
        SystemWriteOutcome(
            system=SystemName(o["system"]), record_id=strawberry.ID(o["recordId"]), status=WriteStatus(o["status"]),
            attributes=list(o.get("attributes") or []), error=o.get("error"), code=o.get("code"),
            outbox_id=strawberry.ID(o["outboxId"]) if o.get("outboxId") else None,
        )
        for o in data
    ]


def _id(value: Any) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value is not None else None


def _steps(data: list[dict[str, Any]]) -> list[ConversionStep]:
    return [
        ConversionStep(system=SystemName(s["system"]), record_id=strawberry.ID(s["recordId"]),
                       action=conversion.Action(s["action"]), confidence=s.get("confidence"),
                       outbox_id=_id(s.get("outboxId")))
        for s in data
    ]


async def _customer(info: Info, customer_id: str) -> Customer:
    links = await info.context.services.xref.links_for([customer_id])
    return Customer(id=strawberry.ID(customer_id), links=links.get(customer_id, []))


def _unsearched(data: Mapping[str, str] | None) -> list[UnavailableSystem]:
    return unavailable_systems(data or {})


async def result_from_json(data: dict[str, Any], info: Info) -> Any:
    kind = data["type"]
    replayed = bool(data.get("replayed"))
    if kind == "CustomerCreated":
        return CustomerCreated(
            customer=await _customer(info, data["customerId"]), system=SystemName(data["system"]),
            record_id=strawberry.ID(data["recordId"]), attributes=list(data["attributes"]),
            audit_id=_id(data.get("auditId")), unsearched=_unsearched(data.get("unsearched")), replayed=replayed,
        )
    if kind == "PossibleDuplicate":
        found = [candidate_from_json(c) for c in data["candidates"]]
        return PossibleDuplicate(message=data["message"], candidates=await graphql_candidates(info, found),
                                 unsearched=_unsearched(data.get("unsearched")))
    if kind == "LeadConverted":
        return LeadConverted(customer=await _customer(info, data["customerId"]), steps=_steps(data["steps"]),
                             audit_id=_id(data.get("auditId")), replayed=replayed)
    if kind == "NotALead":
        status = data.get("status")
        return NotALead(message=data["message"], id=strawberry.ID(data["id"]),
                        status=CustomerStatusValue(status) if status else None)
    if kind == "ConversionFailed":
        return ConversionFailed(message=data["message"], system=SystemName(data["system"]), code=data["code"],
                                retryable=bool(data["retryable"]), steps=_steps(data["steps"]),
                                audit_id=_id(data.get("auditId")))
    if kind == "CustomerUpdated":
        customer_id = data["customerId"]
        links = await info.context.services.xref.links_for([customer_id])
        return CustomerUpdated(
            customer=Customer(id=strawberry.ID(customer_id), links=links.get(customer_id, [])),
            outcomes=_outcomes(data["outcomes"]), audit_id=strawberry.ID(str(data["auditId"])) if data.get("auditId") else None,
            replayed=bool(data.get("replayed")),
        )
    if kind == "InvalidInput":
        problems = [InputProblem(path=p["path"], code=p["code"], message=p["message"],
                                 system=SystemName(p["system"]) if p.get("system") else None) for p in data["problems"]]
        return InvalidInput(message=data["message"], problems=problems)
    if kind == "ConflictError":
        return ConflictError(message=data["message"], attribute=data["attribute"], system=SystemName(data["system"]),
                             record_id=strawberry.ID(data["recordId"]), ours=data["ours"], theirs=data["theirs"],
                             outcomes=_outcomes(data["outcomes"]))
    if kind == "WriteFailed":
        return WriteFailed(message=data["message"], outcomes=_outcomes(data["outcomes"]),
                           failed_system=SystemName(data["system"]) if data.get("system") else None,
                           code=data.get("code"))
    if kind == "CustomerNotFound":
        return CustomerNotFound(message=data["message"], id=strawberry.ID(data["id"]))
    if kind == "IdempotencyKeyReused":
        return IdempotencyKeyReused(message=data["message"], key=data["key"])
    return WriteInProgress(message=data["message"], key=data["key"])


# --- the mutations --------------------------------------------------------------------------------


def _writes(info: Info) -> WriteServices:
    writes = info.context.services.writes
    if writes is None:
        raise RuntimeError("this gateway was started without write services")
    return writes  # type: ignore[no-any-return]


async def _update(info: Info, customer_id: str, changes: RecordChanges, idempotency_key: str | None) -> dict[str, Any]:
    services = info.context.services
    writes = _writes(info)
    customer = await services.xref.get(customer_id)
    if customer is None or not customer.links:
        return {"type": "CustomerNotFound", "id": customer_id, "message": f"no customer has id {customer_id!r}"}
    links = list(customer.links)
    linked = {link.system for link in links}
    checked = validate_customer_input(changes, creating=False, systems=linked, ownership=writes.ownership,
                                      default_region=services.phone_region)
    if checked.problems:
        return creation.invalid_input_json(checked.problems)
    result = await writes.write_through.update(
        customer.id, links, checked.normalized, subject=current_subject(), idempotency_key=idempotency_key,
        request_id=_request_id(info),
    )
    return write_result_json(result)


def _request_id(info: Info) -> str | None:
    """The id the gateway gave this request (the caller's X-Request-Id or a new one), for the audit log."""
    return request_id_var.get()


@strawberry.type
class CustomerMutation:
    @strawberry.mutation(description=(
        "Change a customer's attributes in every linked system that holds them (attribute ownership), "
        "each with its own version token. Send an idempotency key to make a retry safe: the same key with "
        "the same input returns the first answer and writes nothing again."))
    async def update_customer(
        self, info: Info, id: strawberry.ID, input: CustomerInput, idempotency_key: str | None = None
    ) -> UpdateCustomerResult:  # type: ignore[valid-type]
        changes = input.to_changes()
        payload = {"id": str(id), "input": changes_to_json(changes)}
        data = await once(_writes(info).idempotency, idempotency_key, "updateCustomer", payload,
                          lambda: _update(info, str(id), changes, idempotency_key))
        return await result_from_json(data, info)

    @strawberry.mutation(description=(
        "Create a customer in the CRM, as a lead unless `input.status` says active. First searches every system "
        "for it (preemptive search): when existing customers score as likely the same (LINK or REVIEW), answers "
        "`PossibleDuplicate` and creates nothing, unless `allowDuplicate`. The new record gets a golden id of its "
        "own. Send an idempotency key to make a retry safe."))
    async def create_customer(
        self, info: Info, input: CustomerInput, idempotency_key: str | None = None, allow_duplicate: bool = False
    ) -> CreateCustomerResult:  # type: ignore[valid-type]
        values = input.to_changes()
        writes = _writes(info)
        payload = {"input": changes_to_json(values), "allowDuplicate": allow_duplicate}
        data = await once(
            writes.idempotency, idempotency_key, "createCustomer", payload,
            lambda: creation.create_customer(info.context.services, writes, values, allow_duplicate=allow_duplicate,
                                             subject=current_subject(), idempotency_key=idempotency_key,
                                             request_id=_request_id(info)),
            keep=creation.kept,
        )
        return await result_from_json(data, info)

    @strawberry.mutation(description=(
        "Convert a lead into an active customer (seed 003): set it up in Teamwork and QuickBooks (linking the "
        "record the search finds there, else creating one), then set the CRM status to active. Each step is "
        "linked in the index as soon as it is done, so running it again after a failure resumes and creates "
        "nothing twice; on a converted customer it changes nothing."))
    async def convert_lead(
        self, info: Info, id: strawberry.ID, idempotency_key: str | None = None
    ) -> ConvertLeadResult:  # type: ignore[valid-type]
        writes = _writes(info)
        data = await once(
            writes.idempotency, idempotency_key, "convertLead", {"id": str(id)},
            lambda: conversion.convert_lead(info.context.services, writes, writes.conversions, str(id),
                                            subject=current_subject(), idempotency_key=idempotency_key,
                                            request_id=_request_id(info)),
            keep=conversion.kept,
        )
        return await result_from_json(data, info)
