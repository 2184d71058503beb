"""createCustomer: search first (seed 001), then create the customer in the CRM as a lead and index it.

Why in this order:
- validation comes first, because it needs no system: invalid input must not cost (or
  reveal) a single upstream request, not even the search;
- the preemptive search comes next, across every system, so a customer that already
  exists anywhere is offered back instead of typed in a second time. A candidate whose
  decision is LINK or REVIEW counts as a likely duplicate: REVIEW (score at or above the
  review threshold, 4 bits by default) is what the matcher would put in front of a
  steward, e.g. the same name with nothing contradicting it, so it is worth putting in
  front of the person creating the record too; REJECT-level hits are not shown as
  duplicates. `allowDuplicate` creates anyway;
- only the CRM is written: that is where sales enters customers (seed 003). Teamwork
  and QuickBooks get the customer when the lead is converted (`convertLead`).

A create that fails is not queued in the outbox (there would be no record id to return
and nothing to link); the caller gets `WriteFailed` with the system's code and may retry.
Such an answer is not kept under the idempotency key, so a retry with the same key runs
again: its preemptive search then also finds a record that the failed call did create
before its answer was lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from connectors import ConnectorError, RecordChanges, SourceRecord, SystemName
from resolvers._services import Services
from resolvers.candidates import candidate_to_json
from resolvers.errors import error_code
from resolvers.input_validation import InputProblem, validate_customer_input
from resolvers.ownership import OwnershipPolicy
from resolvers.write_values import set_attributes, value_to_json
from xref import Candidate, find_candidates
from xref.fellegi_sunter import Decision

if TYPE_CHECKING:
    from resolvers.mutations import WriteServices

__all__ = ["CRM", "DECIDED_BY", "DUPLICATE_DECISIONS", "create_customer", "invalid_input_json", "kept"]

#: Where new customers are entered (seed 003: "We enter all potential customers into the CRM").
CRM: Final = SystemName.SHAREPOINT
#: Candidate decisions that make a create stop and show the candidates (see the module docstring).
DUPLICATE_DECISIONS: Final = frozenset({Decision.LINK, Decision.REVIEW})
#: Candidates shown at most: the caller has to look at each.
MAX_DUPLICATES: Final = 10
#: Who made the link, as the index records it; not "matcher:..." so incremental matching keeps it.
DECIDED_BY: Final = "gateway:createCustomer"
#: Ownership names of the RecordChanges attributes that differ.
_POLICY_NAME: Final = {"person_name": "personName"}
#: Answers that must not be stored under an idempotency key: the same request may succeed later.
_NOT_KEPT: Final = frozenset({"WriteFailed"})


def kept(result: Mapping[str, Any]) -> bool:
    """Whether an answer is final, and so replayed for the same idempotency key."""
    return result.get("type") not in _NOT_KEPT


def invalid_input_json(problems: Sequence[InputProblem]) -> dict[str, Any]:
    return {"type": "InvalidInput",
            "message": f"{len(problems)} problem(s) in the input; nothing was sent to any system",
            "problems": [{"path": list(p.path), "code": str(p.code), "message": p.message,
                          "system": p.system.value if p.system else None} for p in problems]}


def unheld_problems(values: RecordChanges, system: SystemName, ownership: OwnershipPolicy) -> list[InputProblem]:
    """A value the new record's system does not hold would be dropped without a word: refuse it instead."""
    problems = []
    for name in set_attributes(values):
        if not ownership.systems_to_write(_POLICY_NAME.get(name, name), [system]):
            path = ("input", name)
            problems.append(InputProblem(
                path=path, code="NOT_STORED", system=system,
                message=f"{'.'.join(path)}: a new customer is created in the CRM ({system.value}), which does not "
                        f"hold this attribute; set it once the customer is in a system that does (convertLead)",
            ))
    return problems


def likely_duplicates(candidates: Sequence[Candidate]) -> list[Candidate]:
    return [c for c in candidates if c.decision in DUPLICATE_DECISIONS][:MAX_DUPLICATES]


async def create_customer(
    services: Services,
    writes: WriteServices,
    values: RecordChanges,
    *,
    allow_duplicate: bool,
    subject: str,
    idempotency_key: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The JSON answer of createCustomer (see the module docstring for the order of the steps)."""
    checked = validate_customer_input(values, creating=True, systems={CRM}, ownership=writes.ownership,
                                      default_region=services.phone_region)
    problems = [*checked.problems, *unheld_problems(checked.normalized, CRM, writes.ownership)]
    if problems:
        return invalid_input_json(problems)
    normalized = checked.normalized

    search = await find_candidates(
        services.connectors, services.xref, name=normalized.name, email=normalized.email, phone=normalized.phone,
        address=normalized.address, website=normalized.website, region=services.phone_region,
        settings=services.engine_settings, limit=MAX_DUPLICATES,
    )
    unsearched = {system.value: reason for system, reason in search.unavailable.items()}
    duplicates = likely_duplicates(search.candidates)
    if duplicates and not allow_duplicate:
        return {"type": "PossibleDuplicate", "unsearched": unsearched,
                "candidates": [candidate_to_json(c) for c in duplicates],
                "message": f"{len(duplicates)} existing customer(s) look like this one; nothing was created. "
                           "Use one of them, or send allowDuplicate: true to create the customer anyway"}

    try:
        record = await services.connectors[CRM].create(normalized)
    except ConnectorError as exc:
        return write_failed_json(exc)
    writes.write_through.own_writes.record(record)  # a change notification echoing it is ours
    return await _index(services, writes, record, normalized, unsearched, subject=subject,
                        idempotency_key=idempotency_key, request_id=request_id)


def write_failed_json(exc: ConnectorError) -> dict[str, Any]:
    retry = ("retry later (with the same idempotency key: the preemptive search runs again first)"
             if exc.transient else "correct the input or the system's configuration")
    return {"type": "WriteFailed", "outcomes": [], "system": exc.system.value, "code": error_code(exc),
            "message": f"{exc.system.value} did not create the customer: {exc.message}. Nothing was created "
                       f"(a create is not queued: there would be no id to answer with); {retry}"}


async def _index(
    services: Services,
    writes: WriteServices,
    record: SourceRecord,
    values: RecordChanges,
    unsearched: Mapping[str, str],
    *,
    subject: str,
    idempotency_key: str | None,
    request_id: str | None,
) -> dict[str, Any]:
    """Give the new record a golden customer of its own and audit the create."""
    outcome = await services.xref.link_record(
        record.system, record.id, None, confidence=1.0,
        evidence={"matched": [], "createdBy": "createCustomer"}, decided_by=DECIDED_BY,
    )
    target = f"{record.system.value}:{record.id}"
    attributes = list(set_attributes(values))
    entry = await writes.audit.record(
        subject=subject, mutation="createCustomer", mutation_id=uuid.uuid4().hex, customer_id=outcome.customer_id,
        idempotency_key=idempotency_key, request_id=request_id,
        changes=[{"attribute": name, "before": None, "after": value_to_json(getattr(values, name))}
                 for name in attributes],
        outcomes={target: {"status": "CREATED", "system": record.system.value, "recordId": record.id,
                           "attributes": attributes}},
    )
    return {"type": "CustomerCreated", "customerId": outcome.customer_id, "system": record.system.value,
            "recordId": record.id, "attributes": attributes, "auditId": entry.id, "unsearched": dict(unsearched)}
