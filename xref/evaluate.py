"""How good are the links? Pairwise precision/recall/F1 against the sandbox generator's ground truth."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from xref._service import XrefService

__all__ = ["Evaluation", "evaluate_links", "evaluate_service", "read_ground_truth"]

#: (system, record id); plain strings so CSV rows and SystemName keys compare equal.
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Pairwise scores: a pair is two records said to be the same customer.

    precision = correct pairs / predicted pairs, recall = correct pairs / true pairs.
    With no predicted (true) pairs, precision (recall) is 1.0: nothing was claimed
    wrongly (nothing was there to find).
    """

    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    #: Records in the ground truth; only these are scored.
    records: int
    #: Ground-truth records with no link (scored as customers of their own).
    unlinked: int


def read_ground_truth(source: Path | str | TextIO) -> dict[Key, str]:
    """`entity,system,record_id` rows -> {(system, record_id): entity}."""
    if isinstance(source, (str, Path)):
        with open(source, newline="", encoding="utf-8") as handle:
            return read_ground_truth(handle)
    reader = csv.DictReader(source)
    missing = {"entity", "system", "record_id"} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"ground truth lacks columns {sorted(missing)}")
    return {(row["system"], row["record_id"]): row["entity"] for row in reader}


def _pairs(sizes: Counter[object]) -> int:
    return sum(n * (n - 1) // 2 for n in sizes.values())


def evaluate_links(truth: Mapping[Key, str], links: Mapping[Key, str]) -> Evaluation:
    """Score `links` ({(system, record_id): golden id}) against `truth` ({(system, record_id): entity}).

    Counts pairs from group sizes, never by listing pairs, so 300k records score in a blink.
    """
    unlinked = 0
    by_entity: Counter[object] = Counter()
    by_golden: Counter[object] = Counter()
    by_both: Counter[object] = Counter()
    for key, entity in truth.items():
        golden: object = links.get((str(key[0]), key[1]))
        if golden is None:
            unlinked += 1
            golden = ("unlinked", key)  # a customer of its own
        by_entity[entity] += 1
        by_golden[golden] += 1
        by_both[(golden, entity)] += 1
    true_pairs, predicted, correct = _pairs(by_entity), _pairs(by_golden), _pairs(by_both)
    precision = correct / predicted if predicted else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Evaluation(
        precision=precision,
        recall=recall,
        f1=f1,
        true_pairs=true_pairs,
        predicted_pairs=predicted,
        correct_pairs=correct,
        records=len(truth),
        unlinked=unlinked,
    )


async def evaluate_service(service: XrefService, ground_truth: Path | str | TextIO) -> Evaluation:
    """Score the links currently in the index."""
    truth = read_ground_truth(ground_truth)
    links = {(str(link.system), link.record_id): link.customer_id async for link in service.iter_links()}
    return evaluate_links(truth, links)
