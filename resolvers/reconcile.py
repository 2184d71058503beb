"""Reconciliation (seed 002): where the systems still disagree about each customer, and the repairs.

One run reads every record of every system through the connectors (paged `iterate`,
all systems at once; no call per customer), groups them by golden customer through the
index, and counts, per check, the customers that fail it:

- per attribute (name, email, phone, address, website, status): customers whose linked
  records disagree once normalized (the comparison of `Customer.conflicts`,
  `survivorship.conflicts`), and per system the customers whose record there differs
  from the survivorship value (the value the gateway shows);
- duplicates: customers with two or more records in one system;
- missing: active customers with no record in Teamwork or in QuickBooks;
- dangling links: links to records their system no longer has;
- review: customers with a record in an open review item (and the size of that backlog).

A check's score is the share of the customers it applies to that pass it (an attribute
applies where at least two linked records hold a value: a record without one is a gap,
not a disagreement); the overall score is the share of customers that pass every check.

Status is compared in each system's own terms: the CRM list holds lead or active (it
has no "inactive", so a former customer is not compared there), QuickBooks only an
active flag (a lead and a customer both read as active). A record a system marks
inactive while the customer has another record there is a retired duplicate (the way
QuickBooks merges), not drift. Teamwork has no customer status.

Repairs push the survivorship value to the records that differ, through the write path
(`WriteThrough.update`: ownership rules, version tokens, outbox, audit), one audited
write per customer and attribute. A difference no write can remove is reported as
unfixable with its reason: the ownership policy lets the system ignore the attribute,
the system keeps the value unique and the record is a duplicate, or the value is one the
system would refuse.

Two checks are repaired in the index and the systems themselves (`LinkRepair`, before the
writes): a link whose record is gone (confirmed by reading it again, live) is removed, and
a customer left without links is retired; an active customer missing in Teamwork or
QuickBooks, or whose only record there is gone, is set up there as convertLead does
(`Provisioner`: search, link an unclaimed match, else create with the stable request id,
linked at once). One audit entry per customer and kind. Duplicates inside one system and
the review backlog need a person's judgment: they are reported as `StewardWork`.

Customer data stays in memory for the run; `RunSummary.counts` is what may be stored.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from connectors import Connector, CustomerStatus, RecordChanges, SourceRecord, SystemName, write_limits
from resolvers import survivorship
from resolvers.convert_lead import Action, Provisioned, Provisioner, StepFailed
from resolvers.input_validation import validate_customer_input
from resolvers.ownership import DEFAULT_OWNERSHIP, Ownership, OwnershipPolicy, stored_attributes
from resolvers.survivorship import DEFAULT_POLICY, Policy
from resolvers.write_through import WriteStatus, WriteThrough, _primary_links
from resolvers.write_values import changes_to_json
from xref import AuditLog, CustomerInfo, LinkInfo, ReconcileRunInfo, ReconcileRuns, Stewardship, XrefService
from xref.engine import EngineSettings
from xref.normalize import DEFAULT_REGION

__all__ = [
    "ATTRIBUTES",
    "CHECKS",
    "CheckScore",
    "DECIDED_BY",
    "Deviation",
    "LinkRepair",
    "LinkRepairOutcome",
    "LinkStep",
    "Repair",
    "RepairOutcome",
    "RepairSummary",
    "RunSummary",
    "Snapshot",
    "StewardWork",
    "Unfixable",
    "check",
    "read_snapshot",
    "reconcile",
    "repair",
    "repair_links",
]

#: The compared attributes: survivorship's, and the lifecycle status.
ATTRIBUTES: Final = (*survivorship.ATTRIBUTES, "status")
#: Every check, in report order.
CHECKS: Final = (*ATTRIBUTES, "duplicates", "missing", "dangling_links", "review")
#: Active customers are expected in these systems (seed 003: converting a lead provisions both).
EXPECTED_FOR_ACTIVE: Final = (SystemName.TEAMWORK, SystemName.QUICKBOOKS)
#: Report progress every this many records per system.
PROGRESS_EVERY: Final = 500
#: Review items read per page when collecting the backlog.
_REVIEW_PAGE: Final = 1000
#: Who the index says made the links a repair adds ("gateway:...", so incremental matching keeps them).
DECIDED_BY: Final = "gateway:reconcile"

Progress = Callable[[str, int, int | None], None]
"""`progress(label, done, total)`: reading ("reading sharepoint", records, None) or repairing ("repairing", n, total)."""


# --- reading -------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """Everything one run compares, read once: the links, every record (without its raw wire form), the review backlog."""

    links: dict[str, list[LinkInfo]]
    records: dict[tuple[SystemName, str], SourceRecord]
    read: dict[SystemName, int]
    review_open: int = 0
    review_keys: frozenset[tuple[SystemName, str]] = frozenset()


async def _read_system(system: SystemName, connector: Connector, into: dict[tuple[SystemName, str], SourceRecord],
                       progress: Progress | None) -> int:
    count = 0
    async for record in connector.iterate():
        # The wire form is most of a record's memory and nothing here reads it.
        into[(system, record.id)] = replace(record, raw={})
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(f"reading {system.value}", count, None)
    if progress is not None:
        progress(f"reading {system.value}", count, None)
    return count


async def _review_backlog(stewardship: Stewardship) -> tuple[int, frozenset[tuple[SystemName, str]]]:
    keys: set[tuple[SystemName, str]] = set()
    after: str | None = None
    total = 0
    while True:
        page = await stewardship.review_queue(_REVIEW_PAGE, after)
        total = page.total
        for item in page.items:
            for system, record_id in item.pair:
                keys.add((SystemName(system), record_id))
        if not page.has_next_page:
            return total, frozenset(keys)
        after = page.end_cursor


async def read_snapshot(
    connectors: Mapping[SystemName, Connector], xref: XrefService, *, progress: Progress | None = None
) -> Snapshot:
    """Read every system (concurrently; the first failure cancels the rest and is raised), every link, the backlog."""
    records: dict[tuple[SystemName, str], SourceRecord] = {}
    tasks = {
        system: asyncio.create_task(_read_system(system, conn, records, progress), name=f"reconcile-read-{system}")
        for system, conn in connectors.items()
    }
    try:
        links: dict[str, list[LinkInfo]] = defaultdict(list)
        async for link in xref.iter_links():
            links[link.customer_id].append(link)
        review_open, review_keys = await _review_backlog(Stewardship(xref.sessions))
        await asyncio.gather(*tasks.values())
    except BaseException:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        raise
    return Snapshot(
        links=dict(links), records=records, read={s: t.result() for s, t in tasks.items()},
        review_open=review_open, review_keys=review_keys,
    )


# --- findings ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deviation:
    """One record whose value differs from the customer's survivorship value (values in memory only)."""

    customer_id: str
    attribute: str
    system: SystemName
    record_id: str
    value: Any
    expected: Any


@dataclass(frozen=True, slots=True)
class Unfixable:
    """A deviation no write can remove, and why: "ownership", "duplicate" or "invalid"."""

    deviation: Deviation
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Repair:
    """One write: the survivorship `value` of `attribute` to the customer's records in `links`."""

    customer_id: str
    attribute: str
    value: Any
    links: tuple[LinkInfo, ...]
    deviations: tuple[Deviation, ...]

    @property
    def changes(self) -> RecordChanges:
        return RecordChanges(**{self.attribute: self.value})


@dataclass(frozen=True, slots=True)
class LinkRepair:
    """One customer's links to repair: remove those whose record is gone, then set it up where it is missing.

    `provision` also names a system whose every link is in `unlink`: an active customer
    whose record there was deleted is set up again (found by search when it was recreated
    by hand, else created), as the missing check would ask on the next run.
    """

    customer_id: str
    unlink: tuple[LinkInfo, ...] = ()
    provision: tuple[SystemName, ...] = ()


@dataclass(frozen=True, slots=True)
class StewardWork:
    """A finding only a person can settle ("duplicates" or "review"), with the records and the way to settle it."""

    check: str
    customer_id: str
    system: SystemName | None
    record_ids: tuple[str, ...]
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class CheckScore:
    check: str
    failing: int
    checked: int

    @property
    def score(self) -> float:
        return 1.0 if self.checked == 0 else round((self.checked - self.failing) / self.checked, 4)


@dataclass
class AttributeFindings:
    attribute: str
    #: Customers with at least two records that hold the attribute.
    compared: int = 0
    drifted: list[str] = field(default_factory=list)
    #: Per system, the customers whose record(s) there differ from the survivorship value.
    by_system: dict[SystemName, list[str]] = field(default_factory=dict)
    #: Per system pair ("quickbooks+sharepoint"; "sharepoint+sharepoint" for duplicates), customers whose values differ.
    by_pair: dict[str, int] = field(default_factory=dict)


@dataclass
class RunSummary:
    """The findings of one run. Customer ids and values are for this process only; `counts()` is what may be stored."""

    started_at: datetime
    finished_at: datetime
    customers: int
    records: dict[SystemName, int]
    unlinked: dict[SystemName, int]
    attributes: dict[str, AttributeFindings]
    duplicates: dict[SystemName, list[str]]
    duplicate_records: dict[SystemName, int]
    active: int
    missing: dict[SystemName, list[str]]
    dangling: dict[SystemName, list[tuple[str, str]]]
    review_open: int
    review_customers: list[str]
    checks: dict[str, CheckScore]
    overall: CheckScore
    deviations: list[Deviation] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    unfixable: list[Unfixable] = field(default_factory=list)
    link_repairs: list[LinkRepair] = field(default_factory=list)
    steward: list[StewardWork] = field(default_factory=list)
    outcome: RepairSummary | None = None

    @property
    def seconds(self) -> float:
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    def failing(self, check: str) -> list[str]:
        """The customers failing `check` (ids, sorted)."""
        if check in self.attributes:
            return sorted(self.attributes[check].drifted)
        groups: Mapping[SystemName, Iterable[Any]]
        if check == "duplicates":
            groups = self.duplicates
        elif check == "missing":
            groups = self.missing
        elif check == "dangling_links":
            return sorted({customer for pairs in self.dangling.values() for customer, _ in pairs})
        elif check == "review":
            return sorted(self.review_customers)
        else:
            raise ValueError(f"unknown check {check!r}")
        return sorted({customer for ids in groups.values() for customer in ids})

    def counts(self) -> dict[str, Any]:
        """Counts and scores only, keyed by check, attribute and system names: the stored run summary."""
        def per_system(groups: Mapping[SystemName, Sequence[Any]]) -> dict[str, int]:
            return {system.value: len(items) for system, items in sorted(groups.items())}

        summary: dict[str, Any] = {
            "customers": self.customers,
            "active_customers": self.active,
            "records": {s.value: n for s, n in sorted(self.records.items())},
            "unlinked_records": {s.value: n for s, n in sorted(self.unlinked.items())},
            "checks": {name: _score_json(score) for name, score in self.checks.items()},
            "overall": _score_json(self.overall),
            "attributes": {
                name: {
                    "drifted": len(found.drifted), "compared": found.compared,
                    "score": self.checks[name].score,
                    "systems": {s.value: len(found.by_system.get(s, ())) for s in sorted(self.records)},
                    "pairs": dict(sorted(found.by_pair.items())),
                }
                for name, found in self.attributes.items()
            },
            "duplicates": {
                "customers": len(self.failing("duplicates")), "systems": per_system(self.duplicates),
                "extra_records": {s.value: n for s, n in sorted(self.duplicate_records.items())},
            },
            "missing": per_system(self.missing),
            "dangling_links": per_system(self.dangling),
            "review": {"open_items": self.review_open, "customers": len(self.review_customers)},
            "repairs": self.repair_counts(),
        }
        return summary

    def repair_counts(self) -> dict[str, Any]:
        planned: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for item in self.repairs:
            for link in item.links:
                planned[item.attribute][link.system.value] += 1
        unfixable: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for refused in self.unfixable:
            unfixable[refused.deviation.attribute][refused.reason] += 1
        links: dict[str, dict[str, int]] = {"unlink": defaultdict(int), "provision": defaultdict(int)}
        for fix in self.link_repairs:
            for link in fix.unlink:
                links["unlink"][link.system.value] += 1
            for system in fix.provision:
                links["provision"][system.value] += 1
        steward: dict[str, int] = {"duplicates": 0, "review": 0}
        for work in self.steward:
            steward[work.check] += 1
        counts: dict[str, Any] = {
            "writes": len(self.repairs),
            "planned": {a: dict(sorted(s.items())) for a, s in sorted(planned.items())},
            "unfixable": {a: dict(sorted(r.items())) for a, r in sorted(unfixable.items())},
            "links": {action: dict(sorted(s.items())) for action, s in links.items()},
            "steward": steward,
        }
        if self.outcome is not None:
            counts["outcomes"] = self.outcome.counts()
            counts["link_outcomes"] = self.outcome.link_counts()
        return counts


def _score_json(score: CheckScore) -> dict[str, Any]:
    return {"failing": score.failing, "checked": score.checked, "score": score.score}


def _present(value: Any) -> bool:
    return survivorship._present(value)


def _held_status(system: SystemName, status: CustomerStatus) -> CustomerStatus | None:
    """How `system` shows `status`; None when it cannot hold it.

    A system with a choice column holds only its choices (the CRM list: lead, active); one
    without keeps an active flag (QuickBooks `Active`), where a lead reads as active.
    """
    limit = write_limits(system).get("status")
    if limit is None:
        return None
    if limit.choices is not None:
        return status if status.value in limit.choices else None
    return CustomerStatus.INACTIVE if status is CustomerStatus.INACTIVE else CustomerStatus.ACTIVE


class _Checker:
    def __init__(self, policy: Policy, ownership: OwnershipPolicy, region: str) -> None:
        self.policy = policy
        self.ownership = ownership
        self.region = region
        self.norms = {a: survivorship.normalizer(a, region) for a in survivorship.ATTRIBUTES}

    def compare(self, customer_id: str, by_system: Mapping[SystemName, Sequence[SourceRecord]],
                links: Sequence[LinkInfo], found: dict[str, AttributeFindings]) -> list[Deviation]:
        deviations: list[Deviation] = []
        conflicting = {c.attribute for c in survivorship.conflicts(by_system, self.policy, region=self.region)}
        for attribute in survivorship.ATTRIBUTES:
            values = [(r, v) for rs in by_system.values() for r in rs if _present(v := getattr(r, attribute))]
            if len(values) < 2:
                continue
            found[attribute].compared += 1
            if attribute not in conflicting:
                continue
            choice = survivorship.choose(by_system, attribute, self.policy.rule(attribute))
            if choice is None:
                continue
            norm = self.norms[attribute]
            expected = _key(norm(choice.value))
            normalized = [(r, v, _key(norm(v))) for r, v in values]
            deviations += [
                Deviation(customer_id, attribute, r.system, r.id, v, choice.value)
                for r, v, n in normalized if n != expected
            ]
            self._note(customer_id, attribute, [(r.system, n) for r, _, n in normalized], deviations, found)
        deviations += self._status(customer_id, by_system, links, found)
        return deviations

    def _status(self, customer_id: str, by_system: Mapping[SystemName, Sequence[SourceRecord]],
                links: Sequence[LinkInfo], found: dict[str, AttributeFindings]) -> list[Deviation]:
        lifecycle = survivorship.lifecycle(by_system)
        if lifecycle is None:
            return []
        primary = {link.system: link.record_id for link in _primary_links(links).values()}
        compared: list[tuple[SourceRecord, CustomerStatus]] = []
        for system, records in by_system.items():
            expected = _held_status(system, lifecycle)
            if expected is None:
                continue
            for record in records:
                if record.status is None:
                    continue
                if record.status is CustomerStatus.INACTIVE and primary.get(system) != record.id:
                    continue  # a retired duplicate
                compared.append((record, expected))
        if len(compared) < 2:
            return []
        found["status"].compared += 1
        drifted = [
            Deviation(customer_id, "status", r.system, r.id, r.status, lifecycle)
            for r, expected in compared if r.status is not expected
        ]
        if drifted:
            self._note(customer_id, "status", [(r.system, r.status is expected) for r, expected in compared],
                       drifted, found)
        return drifted

    @staticmethod
    def _note(customer_id: str, attribute: str, values: Sequence[tuple[SystemName, Any]],
              deviations: Sequence[Deviation], found: dict[str, AttributeFindings]) -> None:
        findings = found[attribute]
        findings.drifted.append(customer_id)
        for system in {d.system for d in deviations if d.attribute == attribute and d.customer_id == customer_id}:
            findings.by_system.setdefault(system, []).append(customer_id)
        pairs: set[str] = set()
        for (s1, v1), (s2, v2) in itertools.combinations(values, 2):
            if v1 != v2:
                pairs.add("+".join(sorted((s1.value, s2.value))))
        for pair in pairs:
            findings.by_pair[pair] = findings.by_pair.get(pair, 0) + 1

    # --- repairs ---

    def plan(self, deviations: Sequence[Deviation], links: Sequence[LinkInfo],
             unique: Mapping[SystemName, frozenset[str]],
             by_system: Mapping[SystemName, Sequence[SourceRecord]]) -> tuple[list[Repair], list[Unfixable]]:
        """Group one customer's deviations into writes, one per attribute; the rest is unfixable, with why."""
        by_key = {link.key: link for link in links}
        primary = {link.system: link.record_id for link in _primary_links(links).values()}
        repairs: list[Repair] = []
        unfixable: list[Unfixable] = []
        for attribute, group in itertools.groupby(sorted(deviations, key=lambda d: d.attribute), key=lambda d: d.attribute):
            items = list(group)
            deviating = {(d.system, d.record_id) for d in items}
            # Records that hold the survivorship value already, in a system that keeps it unique.
            holders = {
                r.system for system in unique for r in by_system.get(system, ())
                if attribute in unique[system] and r.key not in deviating and _present(getattr(r, attribute, None))
            }
            held_elsewhere = {key for key in deviating if key[0] in holders}
            writable: list[Deviation] = []
            for d in items:
                if self.ownership.ownership(attribute, d.system) is Ownership.IGNORE or attribute not in stored_attributes(d.system):
                    unfixable.append(Unfixable(d, "ownership", f"{d.system.value} does not receive {attribute} "
                                                              "(ownership policy)"))
                elif attribute in unique.get(d.system, frozenset()) and primary.get(d.system) != d.record_id:
                    unfixable.append(Unfixable(d, "duplicate", f"{d.system.value} keeps {attribute} unique and "
                                                               f"record {d.record_id} is a duplicate: merge it"))
                elif attribute in unique.get(d.system, frozenset()) and (d.system, d.record_id) in held_elsewhere:
                    unfixable.append(Unfixable(d, "duplicate", f"{d.system.value} keeps {attribute} unique and another "
                                                               "record of this customer there holds the value: "
                                                               "merge them"))
                else:
                    writable.append(d)
            if not writable:
                continue
            value = items[0].expected
            checked = validate_customer_input(
                RecordChanges(**{attribute: value}), creating=False, systems={d.system for d in writable},
                ownership=self.ownership, default_region=self.region,
            )
            refused = {p.system: p.message for p in checked.problems}
            if None in refused:
                unfixable += [Unfixable(d, "invalid", f"the survivorship value is invalid: {refused[None]}")
                              for d in writable]
                continue
            kept = [d for d in writable if d.system not in refused]
            unfixable += [Unfixable(d, "invalid", f"{d.system.value} would refuse it: {refused[d.system]}")
                          for d in writable if d.system in refused]
            if kept:
                repairs.append(Repair(
                    customer_id=items[0].customer_id, attribute=attribute,
                    value=getattr(checked.normalized, attribute),
                    links=tuple(by_key[(d.system, d.record_id)] for d in kept), deviations=tuple(kept),
                ))
        return repairs, unfixable


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _duplicates_work(customer_id: str, system: SystemName, records: Sequence[SourceRecord]) -> StewardWork:
    ids = tuple(sorted(r.id for r in records))
    return StewardWork(
        "duplicates", customer_id, system, ids, "duplicates",
        f"{len(ids)} records in {system.value} ({', '.join(ids)}): which one stays is a person's call. If they are "
        f"one customer, merge them in {system.value} itself (a record deleted there then shows as a dangling link, "
        "which `--fix` removes); if one is another customer's, split it off with `unlinkRecord` (then "
        "`linkRecords` or `mergeCustomers` puts it with its own)",
    )


def _review_work(customer_id: str, links: Sequence[LinkInfo]) -> StewardWork:
    systems = {link.system for link in links}
    return StewardWork(
        "review", customer_id, next(iter(systems)) if len(systems) == 1 else None,
        tuple(f"{link.system.value}:{link.record_id}" for link in links), "review",
        "in the review backlog: a steward decides whether the records are one customer (`reviewQueue`, then "
        "`resolveReview`)",
    )


def check(
    snapshot: Snapshot,
    *,
    policy: Policy = DEFAULT_POLICY,
    ownership: OwnershipPolicy = DEFAULT_OWNERSHIP,
    region: str = DEFAULT_REGION,
    unique: Mapping[SystemName, frozenset[str]] | None = None,
    started_at: datetime | None = None,
) -> RunSummary:
    """Every check over a snapshot, and the repairs that would remove the drift (pure: no I/O).

    `unique`: per system, the attributes it keeps unique (a connector's `unique_attributes`).
    """
    started_at = started_at or datetime.now(UTC)
    checker = _Checker(policy, ownership, region)
    unique = unique or {}
    found = {a: AttributeFindings(a) for a in ATTRIBUTES}
    systems = sorted(snapshot.read)
    duplicates: dict[SystemName, list[str]] = {s: [] for s in systems}
    duplicate_records: dict[SystemName, int] = dict.fromkeys(systems, 0)
    missing: dict[SystemName, list[str]] = {s: [] for s in EXPECTED_FOR_ACTIVE if s in snapshot.read}
    dangling: dict[SystemName, list[tuple[str, str]]] = {s: [] for s in systems}
    review_customers: list[str] = []
    linked: set[tuple[SystemName, str]] = set()
    deviations: list[Deviation] = []
    repairs: list[Repair] = []
    unfixable: list[Unfixable] = []
    link_repairs: list[LinkRepair] = []
    steward: list[StewardWork] = []
    failing_any: set[str] = set()
    active = 0
    for customer_id, links in snapshot.links.items():
        by_system: dict[SystemName, list[SourceRecord]] = defaultdict(list)
        gone: list[LinkInfo] = []
        for link in links:
            linked.add(link.key)
            if link.system not in snapshot.read:
                continue  # a system this run did not read: nothing to say about its links
            record = snapshot.records.get(link.key)
            if record is None:
                dangling[link.system].append((customer_id, link.record_id))
                gone.append(link)
                failing_any.add(customer_id)
            else:
                by_system[link.system].append(record)
        for system, records in by_system.items():
            if len(records) > 1:
                duplicates[system].append(customer_id)
                duplicate_records[system] += len(records) - 1
                failing_any.add(customer_id)
                steward.append(_duplicates_work(customer_id, system, records))
        provision: list[SystemName] = []
        if by_system and survivorship.lifecycle(by_system) is CustomerStatus.ACTIVE:
            active += 1
            for system in missing:
                if system not in {link.system for link in links}:
                    missing[system].append(customer_id)
                    failing_any.add(customer_id)
                    provision.append(system)
                elif system not in by_system:
                    provision.append(system)  # its every record there is gone: unlinked first, then set up again
        if gone or provision:
            link_repairs.append(LinkRepair(customer_id, tuple(gone), tuple(provision)))
        in_review = [link for link in links if link.key in snapshot.review_keys]
        if in_review:
            review_customers.append(customer_id)
            failing_any.add(customer_id)
            steward.append(_review_work(customer_id, in_review))
        found_here = checker.compare(customer_id, by_system, links, found)
        if found_here:
            failing_any.add(customer_id)
            deviations += found_here
            planned, refused = checker.plan(found_here, links, unique, by_system)
            repairs += planned
            unfixable += refused
    customers = len(snapshot.links)
    unlinked = {s: sum(1 for key in snapshot.records if key[0] is s and key not in linked) for s in systems}
    summary = RunSummary(
        started_at=started_at, finished_at=started_at, customers=customers, records=dict(snapshot.read),
        unlinked=unlinked, attributes=found, duplicates=duplicates, duplicate_records=duplicate_records,
        active=active, missing=missing, dangling=dangling, review_open=snapshot.review_open,
        review_customers=review_customers, checks={}, overall=CheckScore("overall", len(failing_any), customers),
        deviations=deviations, repairs=repairs, unfixable=unfixable, link_repairs=link_repairs, steward=steward,
    )
    for attribute in ATTRIBUTES:
        summary.checks[attribute] = CheckScore(attribute, len(found[attribute].drifted), found[attribute].compared)
    summary.checks["duplicates"] = CheckScore("duplicates", len(summary.failing("duplicates")), customers)
    summary.checks["missing"] = CheckScore("missing", len(summary.failing("missing")), active)
    summary.checks["dangling_links"] = CheckScore("dangling_links", len(summary.failing("dangling_links")), customers)
    summary.checks["review"] = CheckScore("review", len(review_customers), customers)
    summary.finished_at = datetime.now(UTC)
    return summary


# --- repairing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepairOutcome:
    repair: Repair
    statuses: tuple[tuple[SystemName, str, str], ...]
    """(system, record id, status) per written record: APPLIED, PENDING, FAILED, COMPENSATED, CANCELLED."""
    audit_id: int | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class LinkStep:
    """One step of a link repair: ("unlink" | "provision", system, record id, status, why)."""

    action: str
    system: SystemName
    record_id: str | None
    #: unlink: UNLINKED, KEPT (the record is there, or linked elsewhere now), FAILED;
    #: provision: CREATED, LINKED, ALREADY_LINKED, SKIPPED (no longer active, system not connected), FAILED.
    status: str
    message: str | None = None


@dataclass(frozen=True, slots=True)
class LinkRepairOutcome:
    repair: LinkRepair
    steps: tuple[LinkStep, ...]
    #: The audit entries written (one for the unlinks, one for the provisioning, when each did something).
    audit_ids: tuple[int, ...]
    #: The customer lost its last link and was retired.
    retired: bool = False

    @property
    def failed(self) -> bool:
        return any(step.status == "FAILED" for step in self.steps)


@dataclass
class RepairSummary:
    outcomes: list[RepairOutcome] = field(default_factory=list)
    links: list[LinkRepairOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def link_counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """{"unlink" | "provision": {system: {status: n}}} with statuses lower-cased."""
        found: dict[str, dict[str, dict[str, int]]] = {}
        for outcome in self.links:
            for step in outcome.steps:
                cell = found.setdefault(step.action, {}).setdefault(step.system.value, {})
                cell[step.status.lower()] = cell.get(step.status.lower(), 0) + 1
        return found

    def counts(self) -> dict[str, Any]:
        """{attribute: {system: {status: n}}} with statuses lower-cased."""
        found: dict[str, dict[str, dict[str, int]]] = {}
        for outcome in self.outcomes:
            for system, _, status in outcome.statuses:
                cell = found.setdefault(outcome.repair.attribute, {}).setdefault(system.value, {})
                cell[status.lower()] = cell.get(status.lower(), 0) + 1
        return found

    @property
    def audited(self) -> int:
        return sum(1 for o in self.outcomes if o.audit_id is not None)


class _SnapshotReads:
    """A connector whose first `fetch` of a record answers from the run's snapshot (its version token too).

    The write path reads a record before writing it; the run has just read every record, so
    that costs nothing here. Anything after the first read (a re-read after a stale token)
    goes to the system.
    """

    def __init__(self, inner: Connector, records: dict[tuple[SystemName, str], SourceRecord]) -> None:
        self.inner = inner
        self.system = inner.system
        self.conditional_writes = getattr(inner, "conditional_writes", True)
        self.unique_attributes: frozenset[str] = getattr(inner, "unique_attributes", frozenset())
        self._records = records

    async def fetch(self, record_id: str) -> SourceRecord:
        record = self._records.pop((self.system, record_id), None)
        return record if record is not None else await self.inner.fetch(record_id)

    async def fetch_many(self, record_ids: Sequence[str]) -> list[SourceRecord | None]:
        return await self.inner.fetch_many(record_ids)

    def iterate(self) -> AsyncIterator[SourceRecord]:
        return self.inner.iterate()

    async def search(self, *, name: str | None = None, email: str | None = None,
                     phone: str | None = None) -> list[SourceRecord]:
        return await self.inner.search(name=name, email=email, phone=phone)

    async def create(self, changes: RecordChanges) -> SourceRecord:
        return await self.inner.create(changes)

    async def update(self, record_id: str, version: str | None, changes: RecordChanges) -> SourceRecord:
        return await self.inner.update(record_id, version, changes)

    def record_url(self, record_id: str) -> str:
        return self.inner.record_url(record_id)

    async def aclose(self) -> None:
        return None  # the caller owns the connector


def snapshot_connectors(write_through: WriteThrough, snapshot: Snapshot) -> WriteThrough:
    """The write path over connectors that take the records' versions from `snapshot` (see `_SnapshotReads`)."""
    records = {key: snapshot.records[key] for key in snapshot.records}
    connectors = {s: _SnapshotReads(c, records) for s, c in write_through.connectors.items()}
    return WriteThrough(
        connectors, write_through.outbox, write_through.audit,
        ownership=write_through.ownership, own_writes=write_through.own_writes,
    )


async def repair(
    repairs: Sequence[Repair],
    write_through: WriteThrough,
    *,
    subject: str = "reconcile",
    concurrency: int = 4,
    progress: Progress | None = None,
) -> RepairSummary:
    """Apply `repairs` through the write path; a customer's writes run one after another, customers concurrently."""
    started = time.perf_counter()
    summary = RepairSummary()
    by_customer: dict[str, list[Repair]] = defaultdict(list)
    for item in repairs:
        by_customer[item.customer_id].append(item)
    gate = asyncio.Semaphore(max(1, concurrency))
    done = 0
    if progress is not None:
        progress("repairing", 0, len(repairs))

    async def one_customer(items: list[Repair]) -> None:
        nonlocal done
        async with gate:
            for item in items:
                try:
                    result = await write_through.update(
                        item.customer_id, list(item.links), item.changes, subject=subject, mutation="reconcile",
                    )
                    statuses = tuple((o.system, o.record_id, o.status.value) for o in result.outcomes)
                    error = (f"{result.conflict.attribute} was changed in {result.conflict.system.value} meanwhile"
                             if result.conflict is not None else None)
                    summary.outcomes.append(RepairOutcome(item, statuses, result.audit_id, error))
                except Exception as exc:  # noqa: BLE001 - one customer's failure must not stop the others
                    summary.outcomes.append(RepairOutcome(
                        item, tuple((link.system, link.record_id, WriteStatus.FAILED.value) for link in item.links),
                        None, f"{type(exc).__name__}: {exc}",
                    ))
                done += 1
                if progress is not None:
                    progress("repairing", done, len(repairs))

    await asyncio.gather(*(one_customer(items) for items in by_customer.values()))
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _keys(links: Iterable[LinkInfo]) -> list[str]:
    return sorted(f"{link.system.value}:{link.record_id}" for link in links)


async def _unlink_gone(item: LinkRepair, provisioner: Provisioner, audit: AuditLog,
                       subject: str) -> tuple[list[LinkStep], int | None, bool]:
    """Remove the links whose record is still gone when read again now; one audit entry (ids only)."""
    steps: list[LinkStep] = []
    connected = [link for link in item.unlink if link.system in provisioner.connectors]
    steps += [LinkStep("unlink", link.system, link.record_id, "FAILED", f"{link.system.value} is not connected")
              for link in item.unlink if link.system not in provisioner.connectors]
    # Read again: a record created while the run was reading may have been linked meanwhile.
    found = await provisioner.read(connected)
    present = {(system, r.id) for system, records in found.records.items() for r in records}
    confirmed: list[LinkInfo] = []
    for link in connected:
        if link.system in found.unreadable:
            steps.append(LinkStep("unlink", link.system, link.record_id, "FAILED",
                                  f"could not read {link.system.value} to confirm the record is gone "
                                  f"({found.unreadable[link.system].message})"))
        elif link.key in present:
            steps.append(LinkStep("unlink", link.system, link.record_id, "KEPT", "the record exists (again)"))
        else:
            confirmed.append(link)
    if not confirmed:
        return steps, None, False
    before = (await provisioner.xref.links_for([item.customer_id]))[item.customer_id]
    removed = await provisioner.xref.remove_links(item.customer_id, [link.key for link in confirmed])
    steps += [LinkStep("unlink", link.system, link.record_id, "UNLINKED", f"gone from {link.system.value}")
              for link in removed.removed]
    steps += [LinkStep("unlink", system, record_id, "KEPT", "linked to another customer now")
              for system, record_id in removed.skipped]
    if not removed.removed:
        return steps, None, False
    gone = {link.key for link in removed.removed}
    changes: list[dict[str, Any]] = [{"attribute": "links", "before": _keys(before),
                                      "after": _keys(link for link in before if link.key not in gone)}]
    if removed.retired:
        changes.append({"attribute": "customer", "before": "active", "after": "retired"})
    outcomes = {
        f"{link.system.value}:{link.record_id}": {"status": "UNLINKED", "action": "unlink", "system": link.system.value,
                                                  "record_id": link.record_id, "reason": "record gone from its system"}
        for link in removed.removed
    }
    entry = await audit.record(subject=subject, mutation="reconcile", mutation_id=uuid.uuid4().hex,
                               customer_id=item.customer_id, changes=changes, outcomes=outcomes)
    return steps, entry.id, removed.retired


async def _provision_missing(item: LinkRepair, provisioner: Provisioner, audit: AuditLog,
                             subject: str) -> tuple[list[LinkStep], int | None]:
    """Set the customer up where it is missing, as convertLead does; one audit entry when anything was done."""
    customer: CustomerInfo | None = await provisioner.xref.get(item.customer_id)
    if customer is None or customer.retired_at is not None or not customer.links:
        return [LinkStep("provision", s, None, "SKIPPED", "the customer is gone") for s in item.provision], None
    before = _keys(customer.links)
    linked = await provisioner.read(customer.links)
    if not linked.unreadable and survivorship.lifecycle(linked.records) is not CustomerStatus.ACTIVE:
        return [LinkStep("provision", s, None, "SKIPPED", "the customer is no longer active") for s in item.provision], None
    steps: list[LinkStep] = []
    done = Provisioned()
    failures: dict[str, dict[str, Any]] = {}
    for system in item.provision:
        if system not in provisioner.connectors:
            steps.append(LinkStep("provision", system, None, "SKIPPED", f"{system.value} is not connected"))
            continue
        try:
            found = await provisioner.provision(
                customer, system, lambda: provisioner.view(linked),
                evidence_with=[link for link in customer.links if link.system != system],
            )
        except StepFailed as failure:
            steps.append(LinkStep("provision", system, None, "FAILED", failure.message))
            failures[system.value] = {"status": "FAILED", "action": "provision", "system": system.value,
                                      "error": failure.message, "code": failure.code}
            continue
        steps += [LinkStep("provision", s.system, s.record_id, s.action.value) for s in found.steps]
        done.steps += found.steps
        done.created.update(found.created)
        customer = await provisioner.xref.get(customer.id) or customer
    acted = [s for s in done.steps if s.action in (Action.CREATED, Action.LINKED)]
    if not acted and not failures:
        return steps, None
    changes: list[dict[str, Any]] = [{"attribute": "links", "before": before, "after": _keys(customer.links)}]
    changes += [{"attribute": target, "before": None, "after": changes_to_json(values)}
                for target, values in done.created.items()]
    outcomes: dict[str, dict[str, Any]] = {
        f"{s.system.value}:{s.record_id}": {"status": s.action.value, "action": "provision", **s.to_json()}
        for s in acted
    }
    outcomes.update(failures)
    entry = await audit.record(subject=subject, mutation="reconcile", mutation_id=uuid.uuid4().hex,
                               customer_id=customer.id, changes=changes, outcomes=outcomes)
    return steps, entry.id


async def repair_links(
    repairs: Sequence[LinkRepair],
    provisioner: Provisioner,
    audit: AuditLog,
    *,
    subject: str = "reconcile",
    concurrency: int = 4,
    progress: Progress | None = None,
) -> list[LinkRepairOutcome]:
    """Remove links to records that are gone, then provision missing systems; customers concurrently.

    A customer's failure is its outcome (FAILED steps), not the run's. Re-running creates
    nothing twice: a provisioned record is linked at once, and the provisioner searches
    before it creates, with a stable create id.
    """
    outcomes: list[LinkRepairOutcome] = []
    gate = asyncio.Semaphore(max(1, concurrency))
    done = 0
    if progress is not None:
        progress("repairing links", 0, len(repairs))

    async def one_customer(item: LinkRepair) -> None:
        nonlocal done
        async with gate:
            steps: list[LinkStep] = []
            audit_ids: list[int] = []
            retired = False
            stage = "unlink"
            try:
                if item.unlink:
                    unlinked, audit_id, retired = await _unlink_gone(item, provisioner, audit, subject)
                    steps += unlinked
                    audit_ids += [audit_id] if audit_id is not None else []
                stage = "provision"
                if item.provision and not retired:
                    provisioned, audit_id = await _provision_missing(item, provisioner, audit, subject)
                    steps += provisioned
                    audit_ids += [audit_id] if audit_id is not None else []
            except Exception as exc:  # noqa: BLE001 - one customer's failure must not stop the others
                systems = [link.system for link in item.unlink] if stage == "unlink" else list(item.provision)
                steps += [LinkStep(stage, system, None, "FAILED", f"{type(exc).__name__}: {exc}")
                          for system in dict.fromkeys(systems)]
            outcomes.append(LinkRepairOutcome(item, tuple(steps), tuple(audit_ids), retired))
            done += 1
            if progress is not None:
                progress("repairing links", done, len(repairs))

    await asyncio.gather(*(one_customer(item) for item in repairs))
    return outcomes


# --- one run -------------------------------------------------------------------------------------


async def reconcile(
    connectors: Mapping[SystemName, Connector],
    xref: XrefService,
    *,
    policy: Policy = DEFAULT_POLICY,
    ownership: OwnershipPolicy = DEFAULT_OWNERSHIP,
    region: str = DEFAULT_REGION,
    progress: Progress | None = None,
    runs: ReconcileRuns | None = None,
    keep_runs: int | None = None,
    write_through: WriteThrough | None = None,
    subject: str = "reconcile",
    concurrency: int = 4,
    engine_settings: EngineSettings | None = None,
) -> tuple[RunSummary, ReconcileRunInfo | None]:
    """Read, check and (with `write_through`) repair; store the counts in `runs` when given.

    Link repairs go first (a provisioned record takes the view's values, so it needs no
    write), then the attribute writes. `engine_settings` are the matcher's, for the
    provisioning search. The stored run is of kind "fix" when repairs were applied (its
    summary then has their outcomes), else "check". What the repairs changed shows in the
    next run.
    """
    started_at = datetime.now(UTC)
    snapshot = await read_snapshot(connectors, xref, progress=progress)
    unique = {s: frozenset(getattr(c, "unique_attributes", frozenset())) for s, c in connectors.items()}
    # CPU-bound (normalizing every value): off the event loop, as the bulk match does.
    summary = await asyncio.to_thread(
        check, snapshot, policy=policy, ownership=ownership, region=region, unique=unique, started_at=started_at,
    )
    if write_through is not None and (summary.repairs or summary.link_repairs):
        started = time.perf_counter()
        links: list[LinkRepairOutcome] = []
        if summary.link_repairs:
            provisioner = Provisioner(
                xref=xref, connectors=connectors, ownership=write_through.ownership,
                own_writes=write_through.own_writes, survivorship=policy,
                engine_settings=engine_settings or EngineSettings(), region=region, decided_by=DECIDED_BY,
                created_by="reconcile", rerun="`c360 reconcile --fix --apply`",
            )
            links = await repair_links(summary.link_repairs, provisioner, write_through.audit, subject=subject,
                                       concurrency=concurrency, progress=progress)
        outcome = RepairSummary()
        if summary.repairs:
            outcome = await repair(
                summary.repairs, snapshot_connectors(write_through, snapshot), subject=subject,
                concurrency=concurrency, progress=progress,
            )
        outcome.links = links
        outcome.seconds = round(time.perf_counter() - started, 3)
        summary.outcome = outcome
    del snapshot
    summary.finished_at = datetime.now(UTC)
    stored = None
    if runs is not None:
        stored = await runs.add(
            started_at=summary.started_at, finished_at=summary.finished_at,
            kind="fix" if summary.outcome is not None else "check", customers=summary.customers,
            overall_score=summary.overall.score, summary=summary.counts(), keep=keep_runs,
        )
    return summary, stored
