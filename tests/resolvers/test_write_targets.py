"""Which linked records receive which part of a change: a customer with two records in one system."""

from __future__ import annotations

import datetime

from connectors import Address, RecordChanges, SystemName
from resolvers.write_through import WriteStatus, WriteThrough
from tests.support.fakes import FakeConnector, make_record
from xref import AuditLog, LinkInfo, Outbox, XrefService

QB, SP = SystemName.QUICKBOOKS, SystemName.SHAREPOINT
T0 = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)


def _link(system: SystemName, record_id: str, confidence: float, days: int = 0) -> LinkInfo:
    when = T0 + datetime.timedelta(days=days)
    return LinkInfo(customer_id="c1", system=system, record_id=record_id, confidence=confidence, evidence={},
                    decided_by="test", created_at=when, updated_at=when)


class UniqueNames(FakeConnector):
    """QuickBooks-like: no two records may share a name (DisplayName, error 6240)."""

    unique_attributes = frozenset({"name"})


async def test_a_unique_attribute_goes_to_the_primary_duplicate_only_and_the_rest_to_both(
    write_stores: tuple[XrefService, Outbox, AuditLog],
) -> None:
    qbo = UniqueNames(QB, [make_record(QB, "10", name="Harbour Books"), make_record(QB, "11", name="Harbour Books Ltd")])
    crm = FakeConnector(SP, [make_record(SP, "5", name="Harbour Books")])
    links = [_link(QB, "11", 0.97), _link(QB, "10", 0.97, days=-3), _link(SP, "5", 1.0)]
    writes = WriteThrough({QB: qbo, SP: crm}, write_stores[1], write_stores[2])
    address = Address(line1="1 Quay St", city="Portland", state="OR", postal_code="97204", country="US")

    result = await writes.update("c1", links, RecordChanges(name="Harbour Books Co", address=address), subject="t")

    assert {(o.system, o.record_id): (o.status, o.attributes) for o in result.outcomes} == {
        (QB, "10"): (WriteStatus.APPLIED, ("name", "address")),  # the oldest of the equally sure links
        (QB, "11"): (WriteStatus.APPLIED, ("address",)),
        (SP, "5"): (WriteStatus.APPLIED, ("name", "address")),
    }
    assert (qbo.records["10"].name, qbo.records["11"].name) == ("Harbour Books Co", "Harbour Books Ltd")
    assert qbo.records["11"].address == address and crm.records["5"].name == "Harbour Books Co"


def test_the_most_confident_link_is_primary() -> None:
    qbo = UniqueNames(QB, [])
    writes = WriteThrough({QB: qbo}, None, None)  # type: ignore[arg-type]
    targets = writes.targets([_link(QB, "10", 0.8, days=-9), _link(QB, "11", 0.99)], RecordChanges(name="New"))
    assert [t.link.record_id for t in targets] == ["11"]
