"""The matching engine end to end on small hand-made tables: chaining, rulings, review, fingerprints."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors import SourceRecord, SystemName
from tests.support.fakes import make_record
from xref._match_types import MatchRecord
from xref._stewardship import DIFFERENT, SAME, DecisionInfo, pair_key
from xref.engine import EngineSettings, fingerprint, run_engine
from xref.normalize import normalize_record

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS
PRIORS = EngineSettings(fit=False)  # small tables: the configured weights, not EM on a handful of pairs


def normalized(*records: SourceRecord) -> list[MatchRecord]:
    return [normalize_record(record, index) for index, record in enumerate(records)]


def ruling(verdict: str, a: MatchRecord, b: MatchRecord, fp: str | None = None, decision_id: int = 1) -> DecisionInfo:
    return DecisionInfo(
        id=decision_id, verdict=verdict, action="link" if verdict == SAME else "reject",
        pair=pair_key(a.key, b.key), fingerprint=fp, status="active", decided_by="steward:ann",
        decided_at=datetime(2026, 1, 1, tzinfo=UTC), note=None,
    )


def members(result: object) -> list[set[tuple[SystemName, str]]]:
    return [set(c.members) for c in result.clusters]  # type: ignore[attr-defined]


# A and B share an inbox; B and C share phone, street and ZIP (same building); A and C have
# nothing in common but B. Chaining would make one customer of two companies.
CHAIN = (
    make_record(SP, "A", name="Acme Plumbing", email="info@acmeplumbing.com"),
    make_record(QB, "B", name="Acme Plumbing Inc", email="info@acmeplumbing.com", phone="415-444-6538",
                street="12 Ocean Dr", postal_code="94213"),
    make_record(TW, "C", name="Zenith Bakery", phone="(415) 444-6538", street="12 Ocean Drive", postal_code="94213"),
)


def test_a_chain_through_one_record_does_not_join_two_conflicting_customers() -> None:
    records = normalized(*CHAIN)

    result = run_engine(records, settings=PRIORS)

    assert {(SP, "A"), (QB, "B")} in members(result)
    assert {(TW, "C")} in members(result)
    assert result.refused_merges.get("conflict", 0) >= 1
    assert any(item.reason == "conflict" for item in result.review)


def test_link_evidence_names_the_attributes_that_decided_it_and_sums_to_the_score() -> None:
    records = normalized(*CHAIN)

    result = run_engine(records, settings=PRIORS)

    cluster = next(c for c in result.clusters if (SP, "A") in c.members)
    evidence = cluster.evidence[(QB, "B")] if "attributes" in cluster.evidence[(QB, "B")] else cluster.evidence[(SP, "A")]
    assert {"name", "email"} <= set(evidence["attributes"])
    total = sum(a["weight"] for a in evidence["attributes"].values())
    assert abs(total - evidence["score"]) < 0.01
    assert 0.9 < cluster.confidence[(QB, "B")] <= 1.0


def test_a_different_ruling_keeps_a_strong_pair_apart_and_a_same_ruling_joins_a_weak_one() -> None:
    records = normalized(
        make_record(SP, "1", name="Acme", email="ap@acme.com"),
        make_record(QB, "1", name="Acme Inc", email="ap@acme.com"),
        make_record(TW, "1", name="Unrelated Studio"),
    )
    decisions = [ruling(DIFFERENT, records[0], records[1], decision_id=1), ruling(SAME, records[0], records[2], decision_id=2)]

    result = run_engine(records, decisions, settings=PRIORS)

    assert {(SP, "1"), (TW, "1")} in members(result)
    assert {(QB, "1")} in members(result)
    joined = next(c for c in result.clusters if (TW, "1") in c.members)
    assert (joined.decided_by[(TW, "1")] if (TW, "1") in joined.decided_by else joined.decided_by[(SP, "1")]) == "steward:ann"
    assert result.decisions_applied == 2


def test_a_ruling_whose_values_changed_goes_back_to_review_instead_of_standing() -> None:
    then = normalized(make_record(SP, "1", name="Acme"), make_record(QB, "1", name="Zed Corp"))
    made = ruling(SAME, then[0], then[1], fp=fingerprint(then[0], then[1]))
    now = normalized(make_record(SP, "1", name="Acme"), make_record(QB, "1", name="Zed Corporation Holdings"))

    result = run_engine(now, [made], settings=PRIORS)

    assert result.stale_decisions == (made.id,)
    assert result.decisions_applied == 0
    assert {(SP, "1")} in members(result) and {(QB, "1")} in members(result)
    assert [item.reason for item in result.review] == ["decision_changed"]


def test_an_uncertain_pair_goes_to_review_and_is_not_linked() -> None:
    records = normalized(
        # Same name and town, nothing else to go on: likely, not certain.
        make_record(SP, "1", name="Bay Star Hospitality", city="Half Moon Bay", state="CA"),
        make_record(QB, "1", name="Bay Star Hospitality", city="Half Moon Bay", state="CA"),
    )

    result = run_engine(records, settings=EngineSettings(fit=False))

    assert len(result.clusters) == 2
    [item] = result.review
    assert item.reason == "uncertain" and 4 <= item.score < 10


def test_fingerprint_ignores_pair_order_and_changes_with_any_compared_value() -> None:
    a, b = normalized(make_record(SP, "1", name="Acme", email="a@acme.com"), make_record(QB, "1", name="Acme"))
    changed = normalize_record(make_record(QB, "1", name="Acme", phone="415-444-6538"), 1)
    assert fingerprint(a, b) == fingerprint(b, a)
    assert fingerprint(a, b) != fingerprint(a, changed)
