"""Pairwise precision/recall/F1 of links against the sandbox's ground truth CSV."""

from __future__ import annotations

import io

import pytest

from xref.evaluate import evaluate_links, read_ground_truth

TRUTH_CSV = """entity,system,record_id
e1,sharepoint,1
e1,quickbooks,58
e1,teamwork,9001
e2,sharepoint,2
e2,quickbooks,59
e3,teamwork,9002
"""


def test_perfect_links_score_one() -> None:
    truth = read_ground_truth(io.StringIO(TRUTH_CSV))
    links = {key: f"cus_{entity}" for key, entity in truth.items()}

    scores = evaluate_links(truth, links)

    assert (scores.precision, scores.recall, scores.f1) == (1.0, 1.0, 1.0)
    assert (scores.true_pairs, scores.predicted_pairs, scores.correct_pairs) == (4, 4, 4)
    assert scores.records == 6 and scores.unlinked == 0


def test_linking_two_customers_together_costs_precision() -> None:
    truth = read_ground_truth(io.StringIO(TRUTH_CSV))
    links = {key: ("cus_a" if entity in ("e1", "e2") else "cus_b") for key, entity in truth.items()}

    scores = evaluate_links(truth, links)

    assert scores.predicted_pairs == 10 and scores.correct_pairs == 4
    assert scores.precision == pytest.approx(0.4)
    assert scores.recall == 1.0
    assert scores.f1 == pytest.approx(2 * 0.4 / 1.4)


def test_missed_and_unlinked_records_cost_recall() -> None:
    truth = read_ground_truth(io.StringIO(TRUTH_CSV))
    links = {
        ("sharepoint", "1"): "cus_a",
        ("quickbooks", "58"): "cus_a",
        ("teamwork", "9001"): "cus_c",  # missed
        ("sharepoint", "2"): "cus_b",  # quickbooks 59 not linked at all
        ("teamwork", "9999"): "cus_z",  # not in the ground truth: ignored
    }

    scores = evaluate_links(truth, links)

    assert scores.precision == 1.0
    assert scores.recall == pytest.approx(1 / 4)
    assert scores.unlinked == 2


def test_ground_truth_file_must_have_the_generator_columns() -> None:
    with pytest.raises(ValueError, match="record_id"):
        read_ground_truth(io.StringIO("entity,system\ne1,sharepoint\n"))
