"""The Fellegi-Sunter model: explainable scores, common-value discount, EM and its guards."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import pytest

from connectors import SystemName
from xref._match_types import MatchRecord, PartyKind
from xref.fellegi_sunter import (
    DEFAULT_PARAMETERS,
    Decision,
    FellegiSunterModel,
    MatchThresholds,
    ThresholdPair,
    system_pair,
    to_probability,
)
from xref.scoring import ATTRIBUTES, LEVELS, LevelVector, ValueFrequencies


def make_record(index: int, system: str = "quickbooks", **values: Any) -> MatchRecord:
    return MatchRecord(index=index, system=SystemName(system), record_id=str(index), **values)


def acme(index: int, system: str, **changes: Any) -> MatchRecord:
    values: dict[str, Any] = dict(
        kind=PartyKind.COMPANY, name="acme plumbing", email="ann@acme.com", email_domain="acme.com",
        phone="+14154446538", street="12 ocean dr", city="half moon bay", state="CA", postal="94213",
    )
    return make_record(index, system, **(values | changes))


def test_evidence_names_the_deciding_attributes_and_sums_to_the_score() -> None:
    model = FellegiSunterModel()
    pair = model.score(acme(0, "quickbooks"), acme(1, "sharepoint", email=None, phone="+14150000000"))
    attributes = [e.attribute for e in pair.evidence]
    assert attributes == ["name", "phone", "address", "postal", "city"]  # email missing on one side: absent
    assert sum(e.weight for e in pair.evidence) == pair.score
    assert {e.attribute: e.level for e in pair.evidence}["phone"] == "disagree"
    assert pair.explain()["name"]["level"] == "exact"
    assert (pair.left, pair.right) == (0, 1)


def test_a_true_pair_outscores_a_neighbour() -> None:
    model = FellegiSunterModel()
    same = model.score(acme(0, "quickbooks"), acme(1, "teamwork", name="acme plumbing supply"))
    neighbour = model.score(
        acme(0, "quickbooks"),
        make_record(2, name="zenith bakery", street="14 ocean dr", city="half moon bay", state="CA", postal="94213"),
    )
    thresholds = MatchThresholds()
    assert thresholds.decide(same.score, "quickbooks", "teamwork") is Decision.LINK
    assert thresholds.decide(neighbour.score, "quickbooks", "sharepoint") is Decision.REJECT


def test_a_common_value_weighs_less_than_a_rare_one() -> None:
    smiths = [make_record(i, name="smith", postal=f"{10000 + i}") for i in range(20)]
    rare = [make_record(20, name="quixotic widgets"), make_record(21, name="quixotic widgets")]
    others = [make_record(22 + i, name=f"company {i}") for i in range(200)]
    records = smiths + rare + others
    model = FellegiSunterModel(frequencies=ValueFrequencies.from_records(records))
    common = model.score(records[0], records[1])
    unusual = model.score(records[20], records[21])
    assert common.evidence[0].level == unusual.evidence[0].level == "exact"
    assert common.evidence[0].weight < unusual.evidence[0].weight
    assert unusual.evidence[0].weight == pytest.approx(DEFAULT_PARAMETERS.weight("name", "exact"))


def test_score_many_equals_score() -> None:
    rng = random.Random(7)
    pick = rng.choice
    records = [
        make_record(
            i,
            kind=pick([PartyKind.COMPANY, PartyKind.PERSON]),
            name=pick(["acme plumbing", "acme", "zenith bakery", "john smith", None]),
            given=pick(["john", "j", None]),
            family=pick(["smith", "smyth", None]),
            email=pick(["ann@acme.com", "bob@acme.com", "ann@gmail.com", None]),
            email_domain=pick(["acme.com", None]),
            phone=pick(["+14154446538", "+16504446538", None]),
            street=pick(["12 ocean dr", "12 ocaen dr", "14 ocean dr", None]),
            unit=pick(["ste 4", "ste 5", None]),
            city=pick(["half moon bay", "pacifica", None]),
            state=pick(["CA", "NV", None]),
            postal=pick(["94213", "94219", None]),
            website_domain=pick(["acme.com", "zenith.com", None]),
        )
        for i in range(60)
    ]
    pairs = [(i, j) for i in range(60) for j in range(i + 1, 60)]
    model = FellegiSunterModel(frequencies=ValueFrequencies.from_records(records))
    assert model.score_many(records, pairs) == [model.score(records[i], records[j]) for i, j in pairs]


def test_probability_and_confidence() -> None:
    assert to_probability(0.0, 0.5) == pytest.approx(0.5)
    assert to_probability(10.0, 0.1) == pytest.approx(1 / (1 + 9 / 1024))
    assert to_probability(-2000.0, 0.1) == 0.0 and to_probability(2000.0, 0.1) == 1.0
    model = FellegiSunterModel()
    assert 0.99 < model.confidence(10.0) < 1.0


def test_thresholds_can_differ_per_system_pair() -> None:
    strict = ThresholdPair(link=14.0, review=6.0)
    thresholds = MatchThresholds(per_system_pair={system_pair("quickbooks", "sharepoint"): strict})
    assert thresholds.for_systems("sharepoint", "quickbooks") == strict
    assert thresholds.decide(12.0, "sharepoint", "quickbooks") is Decision.REVIEW
    assert thresholds.decide(12.0, "teamwork", "quickbooks") is Decision.LINK
    with pytest.raises(ValueError):
        ThresholdPair(link=1.0, review=2.0)


# -- EM ------------------------------------------------------------------------------------

TRUE_M = {
    "name": [0.7, 0.2, 0.05, 0.03, 0.02],
    "email": [0.6, 0.05, 0.1, 0.25],
    "phone": [0.65, 0.05, 0.30],
    "postal": [0.85, 0.05, 0.10],
}
TRUE_U = {
    "name": [0.02, 0.03, 0.1, 0.25, 0.6],
    "email": [0.005, 0.005, 0.04, 0.95],
    "phone": [0.005, 0.005, 0.99],
    "postal": [0.1, 0.2, 0.7],
}


def synthetic(n: int, prior: float, seed: int = 3) -> tuple[Counter[LevelVector], list[tuple[LevelVector, bool]]]:
    rng = random.Random(seed)
    counts: Counter[LevelVector] = Counter()
    labelled = []
    for _ in range(n):
        is_match = rng.random() < prior
        table = TRUE_M if is_match else TRUE_U
        vector = tuple(
            rng.choices(LEVELS[a], weights=table[a])[0] if a in table else None for a in ATTRIBUTES
        )
        counts[vector] += 1
        labelled.append((vector, is_match))
    return counts, labelled


def test_em_recovers_m_and_u_and_ranks_true_pairs_first() -> None:
    counts, labelled = synthetic(40_000, prior=0.15)
    model = FellegiSunterModel().fit_counts(counts)
    report = model.fit_report
    assert report is not None and report.fell_back is None and report.converged
    assert model.prior == pytest.approx(0.15, abs=0.03)
    for attr, row in TRUE_M.items():
        for level, expected in zip(LEVELS[attr], row):
            assert model.parameters.m[attr][level] == pytest.approx(expected, abs=0.05)
    for attr, row in TRUE_U.items():
        for level, expected in zip(LEVELS[attr], row):
            assert model.parameters.u[attr][level] == pytest.approx(expected, abs=0.03)

    def score(vector: LevelVector) -> float:
        return sum(model.weight(a, lv) for a, lv in zip(ATTRIBUTES, vector) if lv is not None)

    true_scores = sorted(score(v) for v, m in labelled if m)
    false_scores = sorted(score(v) for v, m in labelled if not m)
    median_true = true_scores[len(true_scores) // 2]
    assert sum(s >= median_true for s in false_scores) < 0.01 * len(false_scores)
    assert sum(s > 0 for s in true_scores) > 0.95 * len(true_scores)


def test_em_keeps_the_match_class_where_strong_identifiers_agree() -> None:
    counts, _ = synthetic(20_000, prior=0.8)  # mostly matches: a naive EM may swap the labels
    model = FellegiSunterModel().fit_counts(counts)
    assert model.weight("email", "exact") > 3 and model.weight("phone", "exact") > 3
    assert model.prior == pytest.approx(0.8, abs=0.05)


@pytest.mark.parametrize(
    "counts",
    [
        Counter(),
        Counter({("exact", "exact", None, None, None, None, None): 500}),
        Counter({(None,) * len(ATTRIBUTES): 50}),
    ],
    ids=["no pairs", "all pairs identical", "nothing comparable"],
)
def test_degenerate_input_falls_back_to_priors(counts: Counter[LevelVector]) -> None:
    model = FellegiSunterModel().fit_counts(counts)
    assert model.fit_report is not None and model.fit_report.fell_back
    assert model.parameters == DEFAULT_PARAMETERS


def test_fit_on_records_learns_frequencies_and_keeps_weights_finite() -> None:
    records = [acme(i, "quickbooks", name=f"acme {i % 7}", phone=f"+1415444{6500 + i}") for i in range(40)]
    pairs = [(i, j) for i in range(40) for j in range(i + 1, 40)]
    model = FellegiSunterModel().fit(records, pairs, max_iter=50)
    assert model.frequencies is not None and model.frequencies.total == 40
    assert all(math.isfinite(w) for row in model.weights().values() for w in row.values())
