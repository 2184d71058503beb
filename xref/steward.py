"""Steward actions: a person's ruling, recorded so every later run respects it, and shown at once.

Each action reduces to pair rulings (`Stewardship.decide`) stamped with the fingerprint of
the compared values as they are *now* in the sources (read live, never stored), so a later
change of those values sends the ruling back to review. The index is then changed right
away (`XrefService.move_links`) instead of waiting for the next bulk run; that run reaches
the same result from the rulings (must-link / cannot-link).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from connectors import Connector, SourceRecord, SystemName
from xref._errors import XrefError
from xref._match_types import MatchRecord
from xref._service import XrefService
from xref._stewardship import DIFFERENT, SAME, DecisionInfo, PairKey, Stewardship, pair_key
from xref._types import CustomerInfo
from xref.engine import fingerprint
from xref.normalize import DEFAULT_REGION, normalize_record

__all__ = [
    "InvalidStewardAction",
    "StewardActionError",
    "StewardActions",
    "StewardOutcome",
    "UnknownCustomer",
    "UnknownRecord",
    "UnknownReviewItem",
    "steward_name",
]

RecordKey = tuple[SystemName, str]

_STEWARD_PREFIX: Final = "steward:"
#: The width of Link.decided_by / Decision.decided_by.
_MAX_DECIDED_BY: Final = 64


class StewardActionError(XrefError):
    """A steward action that cannot be done as asked; `code` lets an API client switch on the cause."""

    code: ClassVar[str] = "STEWARD_ERROR"


class UnknownCustomer(StewardActionError):
    code = "CUSTOMER_NOT_FOUND"


class UnknownRecord(StewardActionError):
    code = "RECORD_NOT_FOUND"


class UnknownReviewItem(StewardActionError):
    code = "REVIEW_ITEM_NOT_FOUND"


class InvalidStewardAction(StewardActionError):
    code = "INVALID_ACTION"


@dataclass(frozen=True, slots=True)
class StewardOutcome:
    """What an action did: the rulings it recorded and the golden ids it touched (survivor first)."""

    decisions: tuple[DecisionInfo, ...]
    customer_ids: tuple[str, ...]


def steward_name(decided_by: str) -> str:
    """"steward:<who>", the form links and rulings carry so a person's decision reads as one."""
    who = decided_by.strip()
    if who.startswith(_STEWARD_PREFIX):
        who = who[len(_STEWARD_PREFIX) :].strip()
    if not who:
        raise InvalidStewardAction("a steward action needs who made it (decided_by)")
    name = _STEWARD_PREFIX + who
    if len(name) > _MAX_DECIDED_BY:
        raise InvalidStewardAction(f"decided_by is longer than {_MAX_DECIDED_BY - len(_STEWARD_PREFIX)} characters")
    return name


def _key(record: tuple[SystemName | str, str | int]) -> RecordKey:
    system, record_id = record
    try:
        return (SystemName(system), str(record_id))
    except ValueError:
        raise UnknownRecord(f"unknown system {system!r} (record {record_id})") from None


class StewardActions:
    """Link, split, merge, reject and review decisions of data stewards (issue 4, "Steward decisions")."""

    def __init__(
        self,
        xref: XrefService,
        connectors: Mapping[SystemName, Connector],
        *,
        region: str = DEFAULT_REGION,
        stewardship: Stewardship | None = None,
    ) -> None:
        self._xref = xref
        self._connectors = connectors
        self._region = region
        self._stewardship = stewardship if stewardship is not None else Stewardship(xref.sessions)

    # -- actions --------------------------------------------------------------------------

    async def _rule_pair(
        self, verdict: str, action: str, a: tuple[SystemName | str, str], b: tuple[SystemName | str, str],
        decided_by: str, note: str | None,
    ) -> tuple[str, RecordKey, RecordKey, DecisionInfo]:
        """Record one ruling on a pair with its current fingerprint: the common start of link and reject."""
        who = steward_name(decided_by)
        left, right = _key(a), _key(b)
        pair = self._pair(left, right)
        prints = await self._fingerprints([pair])
        [decision] = await self._stewardship.decide(verdict, action, [(pair, prints[pair])], who, note)
        return who, left, right, decision

    async def link_records(
        self, a: tuple[SystemName | str, str], b: tuple[SystemName | str, str], *, decided_by: str,
        note: str | None = None,
    ) -> StewardOutcome:
        """Rule `a` and `b` the same customer and put them in one now (b joins a's customer)."""
        who, left, right, decision = await self._rule_pair(SAME, "link", a, b, decided_by, note)
        survivor = await self._join(left, right, who, decision.id)
        return StewardOutcome(decisions=(decision,), customer_ids=(survivor,))

    async def unlink_record(
        self, record: tuple[SystemName | str, str], *, decided_by: str, note: str | None = None
    ) -> StewardOutcome:
        """Split `record` off its customer: it differs from every other member and gets a golden id of its own."""
        who = steward_name(decided_by)
        key = _key(record)
        current = await self._customer_of(key)
        if current is None:
            raise UnknownRecord(f"record {key[0].value}/{key[1]} is not linked to any customer; nothing to split")
        others = [link.key for link in current.links if link.key != key]
        if not others:
            raise InvalidStewardAction(
                f"record {key[0].value}/{key[1]} is the only record of customer {current.id}; nothing to split"
            )
        pairs = [pair_key(key, other) for other in others]
        prints = await self._fingerprints(pairs)
        decisions = await self._stewardship.decide(DIFFERENT, "split", [(p, prints[p]) for p in pairs], who, note)
        new_id = await self._xref.move_links(
            [key], None, decided_by=who, evidence={"decision": decisions[0].id}, confidence=1.0
        )
        return StewardOutcome(decisions=tuple(decisions), customer_ids=(current.id, new_id))

    async def merge_customers(
        self, into: str, source: str, *, decided_by: str, note: str | None = None
    ) -> StewardOutcome:
        """Merge customer `source` into `into`: all its records move, and its id then resolves to `into`.

        Every record of `source` is ruled the same as a representative record of `into`, and
        every record of `into` the same as one of `source`: a tree of rulings over all the
        records. With fewer, a later run would let the conflict guard pull apart records
        only the matcher had joined (the merged names disagree, which is why a person merged).
        """
        who = steward_name(decided_by)
        target = await self._active_customer(into)
        merged = await self._active_customer(source)
        if target.id == merged.id:
            raise InvalidStewardAction(f"customer {into} cannot be merged into itself")
        if not target.links or not merged.links:
            empty = target.id if not target.links else merged.id
            raise InvalidStewardAction(f"customer {empty} has no linked records to merge")
        into_rep, from_rep = target.links[0].key, merged.links[0].key
        pairs = list(dict.fromkeys(
            [pair_key(into_rep, link.key) for link in merged.links]
            + [pair_key(from_rep, link.key) for link in target.links]
        ))
        prints = await self._fingerprints(pairs)
        decisions = await self._stewardship.decide(SAME, "merge", [(p, prints[p]) for p in pairs], who, note)
        await self._xref.move_links(
            [link.key for link in merged.links], target.id,
            decided_by=who, evidence={"decision": decisions[0].id, "merged_from": merged.id}, confidence=1.0,
        )
        return StewardOutcome(decisions=tuple(decisions), customer_ids=(target.id, merged.id))

    async def reject_pair(
        self, a: tuple[SystemName | str, str], b: tuple[SystemName | str, str], *, decided_by: str,
        note: str | None = None,
    ) -> StewardOutcome:
        """Rule `a` and `b` different customers; if they are in one now, `b` leaves it for a new id."""
        who, left, right, decision = await self._rule_pair(DIFFERENT, "reject", a, b, decided_by, note)
        return StewardOutcome(decisions=(decision,), customer_ids=await self._separate(left, right, who, decision.id))

    async def resolve_review(self, item_id: int, *, accept: bool, decided_by: str, note: str | None = None) -> StewardOutcome:
        """Accept (link the pair now) or reject (split it now if together) an open review item."""
        who = steward_name(decided_by)
        item = await self._stewardship.review_item(item_id)
        if item is None:
            raise UnknownReviewItem(f"no review item {item_id}")
        if item.status != "open":
            raise InvalidStewardAction(f"review item {item_id} is already {item.status}")
        prints = await self._fingerprints([item.pair])
        decision = await self._stewardship.resolve_review(
            item_id, accept=accept, decided_by=who, fingerprint=prints[item.pair], note=note
        )
        left, right = item.pair
        if accept:
            ids: tuple[str, ...] = (await self._join(left, right, who, decision.id),)
        else:
            ids = await self._separate(left, right, who, decision.id)
        return StewardOutcome(decisions=(decision,), customer_ids=ids)

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _pair(a: RecordKey, b: RecordKey) -> PairKey:
        if a == b:
            raise InvalidStewardAction(f"a record cannot be paired with itself: {a[0].value}/{a[1]}")
        return pair_key(a, b)

    async def _join(self, a: RecordKey, b: RecordKey, who: str, decision_id: int) -> str:
        """Put b in a's customer (a in b's when a is not indexed, both in a new one when neither is)."""
        owners = await self._xref.customers_for([a, b])
        if b in owners and a not in owners:
            a, b = b, a
        target = owners.get(a)
        evidence = {"decision": decision_id}
        moving = [b] if target is not None else [a, b]
        return await self._xref.move_links(moving, target, decided_by=who, evidence=evidence, confidence=1.0)

    async def _separate(self, a: RecordKey, b: RecordKey, who: str, decision_id: int) -> tuple[str, ...]:
        """Move b to a new customer when a and b share one now; the ids touched (none when already apart)."""
        owners = await self._xref.customers_for([a, b])
        together = owners.get(a)
        if together is None or owners.get(b) != together:
            return tuple(owners[k] for k in (a, b) if k in owners)
        new_id = await self._xref.move_links([b], None, decided_by=who, evidence={"decision": decision_id})
        return (together, new_id)

    async def _customer_of(self, key: RecordKey) -> CustomerInfo | None:
        golden = await self._xref.customer_for(*key)
        return None if golden is None else await self._xref.get(golden)

    async def _active_customer(self, customer_id: str) -> CustomerInfo:
        found = await self._xref.get(customer_id)
        if found is None:
            raise UnknownCustomer(f"no customer {customer_id}")
        if found.merged_from:
            raise InvalidStewardAction(f"customer {customer_id} was already merged into {found.id}")
        if found.retired_at is not None:
            raise InvalidStewardAction(f"customer {customer_id} is retired (its records are gone)")
        return found

    async def _fingerprints(self, pairs: Sequence[PairKey]) -> dict[PairKey, str]:
        """The engine's fingerprint of each pair, over the records read live now (one batch per system)."""
        records = await self._normalized({key for pair in pairs for key in pair})
        return {pair: fingerprint(records[pair[0]], records[pair[1]]) for pair in pairs}

    async def _normalized(self, keys: set[RecordKey]) -> dict[RecordKey, MatchRecord]:
        by_system: dict[SystemName, list[str]] = {}
        for system, record_id in sorted(keys):
            by_system.setdefault(system, []).append(record_id)
        for system in by_system:
            if system not in self._connectors:
                raise UnknownRecord(f"system {system.value} is not connected to this gateway")

        async def fetch(system: SystemName, ids: list[str]) -> list[SourceRecord | None]:
            return list(await self._connectors[system].fetch_many(ids))

        systems = list(by_system)
        # ConnectorErrors pass through as they are: the caller maps them (a source is down, not a bad request).
        fetched = await asyncio.gather(*(fetch(s, by_system[s]) for s in systems))
        found: dict[RecordKey, MatchRecord] = {}
        for system, records in zip(systems, fetched, strict=True):
            for record_id, record in zip(by_system[system], records, strict=True):
                if record is None:
                    raise UnknownRecord(f"no record {record_id} in {system.value}")
                found[(system, record_id)] = normalize_record(record, 0, region=self._region)
        return found
