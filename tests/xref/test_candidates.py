"""Preemptive search (find_candidates): live search in every system, scored, grouped by golden customer."""

from __future__ import annotations

import pytest

from connectors import Address, SourceRecord, SourceUnavailable, SystemName
from tests.support.fakes import FakeConnector, make_record
from xref import XrefError, XrefService, find_candidates
from xref.fellegi_sunter import Decision

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS

ACME_SP = make_record(SP, "1", name="Acme Widgets Inc", email="ops@acme.com", phone="(415) 555-0101",
                      street="12 Ocean Drive", city="San Francisco", state="CA", postal_code="94107")
ACME_TW = make_record(TW, "9", name="ACME Widgets", email="info@acme.com", phone="+1 415 555 0101",
                      postal_code="94107")
ACME_QB = make_record(QB, "5", name="Acme Widgets, Inc.", email="ops@acme.com")
PLUMB_TW = make_record(TW, "10", name="Acme Plumbing", email="x@acmeplumb.com", phone="212 555 0199",
                       postal_code="10001")
#: In a system, not in the index yet (created after the last bulk run).
NEW_QB = make_record(QB, "77", name="Acme Plumbing LLC", email="billing@acmeplumb.com")


def connectors_of(*records: SourceRecord, down: dict[SystemName, Exception] | None = None) -> dict[SystemName, FakeConnector]:
    fakes = {system: FakeConnector(system, search_fail_with=(down or {}).get(system)) for system in SystemName}
    for record in records:
        fakes[record.system].records[record.id] = record
    return fakes


@pytest.fixture
async def indexed(service: XrefService) -> dict[str, str]:
    """Two golden customers: acme (three records) and plumbing (one); NEW_QB is not linked."""
    acme = (await service.link_record(SP, "1", None, confidence=1.0, evidence={}, decided_by="test")).customer_id
    for system, record_id in ((TW, "9"), (QB, "5")):
        await service.link_record(system, record_id, acme, confidence=0.99, evidence={}, decided_by="test")
    plumbing = (await service.link_record(TW, "10", None, confidence=1.0, evidence={}, decided_by="test")).customer_id
    return {"acme": acme, "plumbing": plumbing}


ALL = (ACME_SP, ACME_TW, ACME_QB, PLUMB_TW, NEW_QB)


async def test_an_email_finds_its_customer_once_with_every_record_that_matched(
    service: XrefService, indexed: dict[str, str]
) -> None:
    found = await find_candidates(connectors_of(*ALL), service, email="OPS@acme.com ")

    [best] = found.candidates
    assert best.customer_id == indexed["acme"]
    assert set(best.records) == {(SP, "1"), (QB, "5")}
    assert best.evidence == {"email": {"level": "exact", "weight": pytest.approx(best.score, abs=1e-3)}}
    # One exact email alone is worth a look, not an automatic link.
    assert best.decision is Decision.REVIEW
    assert 0.0 < best.confidence < 1.0
    assert found.unavailable == {}


async def test_name_and_phone_rank_the_right_customer_first_with_evidence_that_sums_to_the_score(
    service: XrefService, indexed: dict[str, str]
) -> None:
    found = await find_candidates(connectors_of(*ALL), service, name="Acme", phone="415.555.0101")

    best = found.candidates[0]
    assert best.customer_id == indexed["acme"]
    assert best.decision is Decision.LINK
    assert {"name", "phone"} <= set(best.evidence)
    assert sum(float(e["weight"]) for e in best.evidence.values()) == pytest.approx(best.score, abs=0.01)
    scores = [c.score for c in found.candidates]
    assert scores == sorted(scores, reverse=True)
    # The other Acme companies are candidates too, ranked below and not linkable.
    others = {c.customer_id for c in found.candidates[1:]}
    assert indexed["plumbing"] in others and None in others
    assert all(c.decision is not Decision.LINK for c in found.candidates[1:])


async def test_a_record_not_in_the_index_yet_is_a_candidate_without_a_customer(
    service: XrefService, indexed: dict[str, str]
) -> None:
    found = await find_candidates(connectors_of(*ALL), service, email="billing@acmeplumb.com")

    [only] = found.candidates
    assert only.customer_id is None
    assert only.records == ((QB, "77"),)


async def test_the_address_sharpens_the_score(service: XrefService, indexed: dict[str, str]) -> None:
    fakes = connectors_of(*ALL)
    without = await find_candidates(fakes, service, email="ops@acme.com")
    with_address = await find_candidates(
        fakes, service, email="ops@acme.com",
        address=Address(line1="12 Ocean Dr", city="San Francisco", state="California", postal_code="94107-1234"),
    )

    assert with_address.candidates[0].customer_id == indexed["acme"]
    assert with_address.candidates[0].score > without.candidates[0].score
    assert {"address", "postal"} <= set(with_address.candidates[0].evidence)


async def test_a_system_that_is_down_is_reported_and_the_others_still_answer(
    service: XrefService, indexed: dict[str, str]
) -> None:
    fakes = connectors_of(*ALL, down={QB: SourceUnavailable(QB, "503 from upstream")})

    found = await find_candidates(fakes, service, email="ops@acme.com")

    assert set(found.unavailable) == {QB}
    assert "503 from upstream" in found.unavailable[QB]
    [best] = found.candidates
    assert best.customer_id == indexed["acme"] and best.records == ((SP, "1"),)


async def test_every_system_is_asked_with_the_probe(service: XrefService, indexed: dict[str, str]) -> None:
    fakes = connectors_of(*ALL)

    await find_candidates(fakes, service, name="Acme", phone="4155550101", email=None)

    for fake in fakes.values():
        assert fake.search_calls == [{"name": "Acme", "email": None, "phone": "4155550101"}]


async def test_limit_keeps_the_best(service: XrefService, indexed: dict[str, str]) -> None:
    found = await find_candidates(connectors_of(*ALL), service, name="Acme", phone="4155550101", limit=1)

    assert [c.customer_id for c in found.candidates] == [indexed["acme"]]


async def test_nothing_found_is_an_empty_answer(service: XrefService) -> None:
    found = await find_candidates(connectors_of(*ALL), service, email="nobody@nowhere.example")

    assert found.candidates == () and found.unavailable == {}


@pytest.mark.parametrize(
    "probe",
    [{}, {"name": "  ", "email": ""}, {"website": "acme.com"}, {"address": Address(postal_code="94107")}],
)
async def test_a_search_needs_a_name_email_or_phone(service: XrefService, probe: dict[str, object]) -> None:
    with pytest.raises(XrefError, match="at least one of name, email or phone"):
        await find_candidates(connectors_of(*ALL), service, **probe)  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [0, -1, 101])
async def test_limit_out_of_range_is_refused(service: XrefService, limit: int) -> None:
    with pytest.raises(XrefError, match="limit"):
        await find_candidates(connectors_of(*ALL), service, email="ops@acme.com", limit=limit)
