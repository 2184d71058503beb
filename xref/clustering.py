"""Clustering: greedy agglomeration of scored pairs into identities that do not chain.

Plain transitive closure turns A~B and B~C into one identity even when A and C have
different phones, emails and names, and a few such bridges chain a whole city into one
customer. Here pairs are applied best first and a merge of two clusters is refused when
any record of one side conflicts with any record of the other (`conflicts`), when a
steward's `cannot_link` would end up inside one cluster, when one-to-one is broken, or
when the cluster would outgrow `max_cluster_size`. So in the chain above B joins the side
it matches better and the other link is refused, with its reason kept for review.

Steward `must_link` pairs are applied first and regardless of threshold, conflicts and
size; only a `cannot_link` can stop them (two decisions that contradict each other are
reported, not silently resolved).

Pure function, no I/O. Union-find keeps each cluster's member list and relabels the
smaller side on merge, so lookups are O(1) and a run over ~1M pairs is dominated by the
sort and the caller's `conflicts` callable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Final

from xref._cluster_types import ClusterLink, ClusterOutcome, RefusalReason, RefusedMerge, WithinSystemDuplicates
from xref._match_types import ScoredPair

__all__ = [
    "DEFAULT_MAX_CLUSTER_SIZE",
    "ClusterLink",
    "ClusterOutcome",
    "RefusalReason",
    "RefusedMerge",
    "WithinSystemDuplicates",
    "cluster",
]

#: Three systems and a few duplicates each is a big customer; far more is a chain gone wrong.
DEFAULT_MAX_CLUSTER_SIZE: Final = 32

Threshold = float | Callable[[ScoredPair], float]


class _Forest:
    """Union-find with explicit member lists (merge smaller into larger, relabel the smaller)."""

    __slots__ = ("root", "members")

    def __init__(self, n: int) -> None:
        self.root = list(range(n))
        # Singletons have no entry: 300k one-element lists would cost more than the run.
        self.members: dict[int, list[int]] = {}

    def of(self, root: int) -> list[int]:
        return self.members.get(root) or [root]

    def union(self, a: int, b: int) -> None:
        ra, rb = self.root[a], self.root[b]
        big, small = self.of(ra), self.of(rb)
        if len(big) < len(small):
            ra, rb, big, small = rb, ra, small, big
        root = self.root
        for m in small:
            root[m] = ra
        big.extend(small)
        self.members[ra] = big
        self.members.pop(rb, None)


def cluster(
    n: int,
    pairs: Sequence[ScoredPair],
    *,
    link_threshold: Threshold,
    must_link: Iterable[tuple[int, int]] = (),
    cannot_link: Iterable[tuple[int, int]] = (),
    conflicts: Callable[[int, int], bool] | None = None,
    one_to_one: Callable[[int, int], bool] | None = None,
    systems: Sequence[Hashable] | None = None,
    max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE,
) -> ClusterOutcome:
    """Cluster records 0..n-1 from scored pairs; see the module docstring for the rules.

    - `link_threshold`: a number, or a function of the pair (thresholds per system pair).
    - `conflicts(i, j)` is called with i < j for every i of one side and j of the other,
      so keep it cheap and symmetric.
    - `one_to_one(i, j)`: True when the pair's two systems are under the one-to-one rule;
      then, best score first, a record keeps at most one link to records of the other
      system. Needs `systems` (the system of each record), which also enables `duplicates`.
    - The result does not depend on the order of `pairs`, `must_link` or `cannot_link`.
    """
    if systems is not None and len(systems) != n:
        raise ValueError(f"systems has {len(systems)} entries for {n} records")
    if one_to_one is not None and systems is None:
        raise ValueError("one_to_one needs systems, to know which system a link goes to")
    forest = _Forest(n)
    forbidden = _adjacency(cannot_link, n)
    links: list[ClusterLink] = []
    refused: list[RefusedMerge] = []
    attached: dict[int, ClusterLink] = {}
    # (record, other system) -> the partner that holds record's one link to that system.
    linked_to: dict[tuple[int, Hashable], int] = {}

    def accept(link: ClusterLink) -> None:
        forest.union(link.left, link.right)
        links.append(link)
        attached.setdefault(link.left, link)
        attached.setdefault(link.right, link)
        if systems is not None and one_to_one is not None and one_to_one(link.left, link.right):
            linked_to.setdefault((link.left, systems[link.right]), link.right)
            linked_to.setdefault((link.right, systems[link.left]), link.left)

    forced = sorted({_ordered(a, b, n) for a, b in must_link if a != b})
    forced_pairs = _best_scored(pairs, set(forced))
    for lo, hi in forced:
        if forest.root[lo] == forest.root[hi]:
            continue
        pair = forced_pairs.get((lo, hi))
        blocker = _forbidden_between(forest, forbidden, lo, hi)
        if blocker is not None:
            refused.append(RefusedMerge(lo, hi, pair, RefusalReason.CANNOT_LINK, blocker))
            continue
        accept(ClusterLink(lo, hi, pair, forced=True))

    for lo, hi, pair in _ranked(pairs, link_threshold, n):
        ra, rb = forest.root[lo], forest.root[hi]
        if ra == rb:
            continue
        side_a, side_b = forest.of(ra), forest.of(rb)
        reason: RefusalReason | None = None
        between: tuple[int, int] | None = None
        if len(side_a) + len(side_b) > max_cluster_size:
            reason = RefusalReason.MAX_CLUSTER_SIZE
        elif (between := _forbidden_between(forest, forbidden, lo, hi)) is not None:
            reason = RefusalReason.CANNOT_LINK
        elif systems is not None and one_to_one is not None and one_to_one(lo, hi):
            if (between := _already_linked(linked_to, systems, lo, hi)) is not None:
                reason = RefusalReason.ONE_TO_ONE
        if reason is None and conflicts is not None:
            if (between := _conflict_between(conflicts, side_a, side_b)) is not None:
                reason = RefusalReason.CONFLICT
        if reason is not None:
            refused.append(RefusedMerge(lo, hi, pair, reason, between))
            continue
        accept(ClusterLink(lo, hi, pair))

    return _outcome(forest, n, links, attached, refused, systems)


def _ordered(a: int, b: int, n: int) -> tuple[int, int]:
    if not (0 <= a < n and 0 <= b < n):
        raise ValueError(f"pair ({a}, {b}) outside records 0..{n - 1}")
    return (a, b) if a < b else (b, a)


def _adjacency(edges: Iterable[tuple[int, int]], n: int) -> dict[int, set[int]]:
    table: defaultdict[int, set[int]] = defaultdict(set)
    for a, b in edges:
        lo, hi = _ordered(a, b, n)
        table[lo].add(hi)
        table[hi].add(lo)
    return dict(table)


def _best_scored(pairs: Sequence[ScoredPair], wanted: set[tuple[int, int]]) -> dict[tuple[int, int], ScoredPair]:
    best: dict[tuple[int, int], ScoredPair] = {}
    if not wanted:
        return best
    for p in pairs:
        key = (p.left, p.right) if p.left < p.right else (p.right, p.left)
        if key in wanted and (key not in best or p.score > best[key].score):
            best[key] = p
    return best


def _ranked(pairs: Sequence[ScoredPair], threshold: Threshold, n: int) -> Iterator[tuple[int, int, ScoredPair]]:
    if callable(threshold):
        kept = (k for k, p in enumerate(pairs) if p.score >= threshold(p))
    else:
        limit = float(threshold)  # no call per pair when the threshold is one number
        kept = (k for k, p in enumerate(pairs) if p.score >= limit)
    ranked: list[tuple[float, int, int, int]] = []
    for k in kept:
        p = pairs[k]
        if p.left != p.right:
            lo, hi = _ordered(p.left, p.right, n)
            ranked.append((-p.score, lo, hi, k))
    # Score, then indices. A pair given twice with one score keeps its first copy; the
    # second finds both records already in one cluster.
    ranked.sort()
    return ((lo, hi, pairs[k]) for _, lo, hi, k in ranked)


def _forbidden_between(forest: _Forest, forbidden: dict[int, set[int]], a: int, b: int) -> tuple[int, int] | None:
    if not forbidden:
        return None
    ra, rb = forest.root[a], forest.root[b]
    side, other = forest.of(ra), rb
    if len(side) > len(forest.of(rb)):
        side, other = forest.of(rb), ra
    root = forest.root
    for m in side:
        for partner in forbidden.get(m, ()):
            if root[partner] == other:
                return (m, partner) if m < partner else (partner, m)
    return None


def _already_linked(
    linked_to: dict[tuple[int, Hashable], int], systems: Sequence[Hashable], a: int, b: int
) -> tuple[int, int] | None:
    for record, other in ((a, b), (b, a)):
        partner = linked_to.get((record, systems[other]))
        if partner is not None:
            return (record, partner) if record < partner else (partner, record)
    return None


def _conflict_between(
    conflicts: Callable[[int, int], bool], side_a: list[int], side_b: list[int]
) -> tuple[int, int] | None:
    # Sorted so the pair named in a refusal does not depend on merge history.
    for i in sorted(side_a):
        for j in sorted(side_b):
            lo, hi = (i, j) if i < j else (j, i)
            if conflicts(lo, hi):
                return (lo, hi)
    return None


def _outcome(
    forest: _Forest,
    n: int,
    links: list[ClusterLink],
    attached: dict[int, ClusterLink],
    refused: list[RefusedMerge],
    systems: Sequence[Hashable] | None,
) -> ClusterOutcome:
    # Walking records in order meets each cluster first at its smallest member.
    position: dict[int, int] = {}
    clusters: list[tuple[int, ...]] = []
    cluster_of = [0] * n
    for i in range(n):
        r = forest.root[i]
        if r not in position:
            position[r] = len(clusters)
            clusters.append(tuple(sorted(forest.of(r))))
        cluster_of[i] = position[r]
    duplicates: list[WithinSystemDuplicates] = []
    if systems is not None:
        for number, members in enumerate(clusters):
            if len(members) < 2:
                continue
            by_system: dict[Hashable, list[int]] = defaultdict(list)
            for m in members:
                by_system[systems[m]].append(m)
            for system, records in sorted(by_system.items(), key=lambda kv: kv[1][0]):
                if len(records) > 1:
                    duplicates.append(WithinSystemDuplicates(number, system, tuple(records)))
    return ClusterOutcome(
        clusters=tuple(clusters),
        cluster_of=tuple(cluster_of),
        links=tuple(links),
        attached_by=attached,
        refused=tuple(refused),
        duplicates=tuple(duplicates),
    )
