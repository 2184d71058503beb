"""What clustering hands back: the clusters, the links that made them, and the merges it refused."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from xref._match_types import ScoredPair

__all__ = ["ClusterLink", "ClusterOutcome", "RefusalReason", "RefusedMerge", "WithinSystemDuplicates"]


class RefusalReason(StrEnum):
    CANNOT_LINK = "cannot_link"
    CONFLICT = "conflict"
    ONE_TO_ONE = "one_to_one"
    MAX_CLUSTER_SIZE = "max_cluster_size"


@dataclass(frozen=True, slots=True)
class ClusterLink:
    """A link that joined two clusters; `left < right`.

    `pair` is None for a `must_link` that had no scored pair (a steward's decision
    stands without a score); a must_link that was also scored carries its pair.
    """

    left: int
    right: int
    pair: ScoredPair | None
    forced: bool = False

    @property
    def score(self) -> float | None:
        return self.pair.score if self.pair is not None else None


@dataclass(frozen=True, slots=True)
class RefusedMerge:
    """A pair (a must_link, or a scored pair at or above the threshold) that did not join its clusters.

    `between` names the two records that stood in the way: the cannot_link pair, the
    conflicting pair, or for one-to-one the record that already held a link to the other
    system and that link's partner. None for a size refusal.
    """

    left: int
    right: int
    pair: ScoredPair | None
    reason: RefusalReason
    between: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class WithinSystemDuplicates:
    """Records of one system that ended up in one cluster: allowed, but a steward should see them."""

    cluster: int
    system: Hashable
    records: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ClusterOutcome:
    """The result of `cluster`; every order in it is deterministic.

    - `clusters`: every record exactly once (singletons too), members ascending, clusters
      ordered by their smallest member; `cluster_of[i]` is record i's position there.
    - `links`: the accepted links in the order they were applied (must_link first, then by
      descending score); a cluster of k records has exactly k - 1 of them.
    - `attached_by[i]`: the best link touching record i (must_link before scored), for every
      record in a cluster of two or more: the confidence and evidence to store for i.
    - `refused`: merges refused, in the order they were tried.
    - `duplicates`: per cluster and system, the records of that system when there are two or
      more (empty unless `systems` was given).
    """

    clusters: tuple[tuple[int, ...], ...]
    cluster_of: tuple[int, ...]
    links: tuple[ClusterLink, ...]
    attached_by: Mapping[int, ClusterLink]
    refused: tuple[RefusedMerge, ...]
    duplicates: tuple[WithinSystemDuplicates, ...]

    def members(self, record: int) -> tuple[int, ...]:
        """The records clustered with `record`, itself included."""
        return self.clusters[self.cluster_of[record]]
