"""Link and review thresholds on the Fellegi-Sunter score, with overrides per pair of systems."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from connectors import SystemName

__all__ = ["DEFAULT_LINK", "DEFAULT_REVIEW", "Decision", "MatchThresholds", "ThresholdPair", "system_pair"]

# Scores are log2 likelihood ratios; with the default prior of 0.1 the posterior is
# 1 / (1 + 9 * 2**-score). 10 bits -> 0.991: two independent strong agreements (exact email
# ~8 bits + exact name ~6) or name + phone + address clear it, one alone does not. 4 bits ->
# 0.64: a single strong agreement with nothing against it is worth a steward's look, while a
# shared name contradicted by address, postal code and city (~ -1 bit) is not.
DEFAULT_LINK: Final = 10.0
DEFAULT_REVIEW: Final = 4.0


class Decision(StrEnum):
    LINK = "link"
    REVIEW = "review"
    REJECT = "reject"


def system_pair(a: SystemName | str, b: SystemName | str) -> frozenset[SystemName]:
    """The unordered key of a threshold override: `system_pair("quickbooks", "sharepoint")`."""
    return frozenset({SystemName(a), SystemName(b)})


@dataclass(frozen=True, slots=True)
class ThresholdPair:
    """Scores at or above `link` link automatically; at or above `review` go to the review queue."""

    link: float
    review: float

    def __post_init__(self) -> None:
        if self.review > self.link:
            raise ValueError(f"review threshold {self.review} is above link threshold {self.link}")


@dataclass(frozen=True, slots=True)
class MatchThresholds:
    """Global thresholds, overridable per unordered system pair (duplicates inside one system use {s})."""

    link: float = DEFAULT_LINK
    review: float = DEFAULT_REVIEW
    per_system_pair: Mapping[frozenset[SystemName], ThresholdPair] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ThresholdPair(self.link, self.review)  # validates the order

    def for_systems(self, a: SystemName | str, b: SystemName | str) -> ThresholdPair:
        return self.per_system_pair.get(system_pair(a, b), ThresholdPair(self.link, self.review))

    def decide(self, score: float, a: SystemName | str, b: SystemName | str) -> Decision:
        t = self.for_systems(a, b)
        if score >= t.link:
            return Decision.LINK
        if score >= t.review:
            return Decision.REVIEW
        return Decision.REJECT
