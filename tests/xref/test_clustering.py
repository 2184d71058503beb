"""Clustering: best links first, no chaining across conflicts, steward decisions respected."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from xref._match_types import Evidence, ScoredPair
from xref.clustering import ClusterOutcome, RefusalReason, cluster

SP, TW, QB = "sharepoint", "teamwork", "quickbooks"


def pair(left: int, right: int, score: float) -> ScoredPair:
    return ScoredPair(left, right, score, (Evidence("email", "exact", score),))


def conflicting(*pairs: tuple[int, int]) -> Callable[[int, int], bool]:
    table = {(min(p), max(p)) for p in pairs}
    return lambda i, j: (i, j) in table


def two(rng: random.Random, n: int) -> tuple[int, int]:
    a, b = rng.sample(range(n), 2)
    return (a, b)


def test_chain_with_conflict_at_its_ends_stays_split_and_b_joins_the_better_side() -> None:
    a, b, c = 0, 1, 2
    outcome = cluster(3, [pair(a, b, 9.0), pair(b, c, 12.0)], link_threshold=5.0, conflicts=conflicting((a, c)))
    assert outcome.clusters == ((0,), (1, 2))
    [refusal] = outcome.refused
    assert (refusal.left, refusal.right, refusal.reason, refusal.between) == (a, b, RefusalReason.CONFLICT, (a, c))
    assert outcome.attached_by[b].score == 12.0 and a not in outcome.attached_by


def test_chain_without_conflict_links_transitively() -> None:
    outcome = cluster(3, [pair(0, 1, 9.0), pair(1, 2, 12.0)], link_threshold=5.0)
    assert outcome.clusters == ((0, 1, 2),)
    assert [(link.left, link.right) for link in outcome.links] == [(1, 2), (0, 1)]


def test_pairs_below_threshold_do_not_link_and_per_pair_thresholds_apply() -> None:
    pairs = [pair(0, 1, 4.0), pair(2, 3, 4.0)]
    assert cluster(4, pairs, link_threshold=5.0).clusters == ((0,), (1,), (2,), (3,))
    # A lower threshold for pairs involving record 2 (think: one pair of systems).
    outcome = cluster(4, pairs, link_threshold=lambda p: 3.0 if 2 in (p.left, p.right) else 5.0)
    assert outcome.clusters == ((0,), (1,), (2, 3))


def test_cannot_link_survives_a_high_score_and_a_chain() -> None:
    pairs = [pair(0, 1, 20.0), pair(1, 2, 15.0), pair(0, 2, 18.0)]
    outcome = cluster(3, pairs, link_threshold=5.0, cannot_link=[(2, 0)])
    assert outcome.clusters == ((0, 1), (2,))
    assert {r.reason for r in outcome.refused} == {RefusalReason.CANNOT_LINK}
    assert all(r.between == (0, 2) for r in outcome.refused)


def test_must_link_joins_below_threshold_and_despite_conflicts() -> None:
    outcome = cluster(3, [pair(0, 1, 1.0)], link_threshold=5.0, must_link=[(1, 0), (1, 2)], conflicts=lambda i, j: True)
    assert outcome.clusters == ((0, 1, 2),)
    assert all(link.forced for link in outcome.links)
    # The scored pair's evidence travels with the steward's link; an unscored one has none.
    assert outcome.attached_by[0].score == 1.0
    assert outcome.attached_by[2].pair is None


def test_must_link_contradicting_cannot_link_is_reported_not_applied() -> None:
    outcome = cluster(3, [], link_threshold=5.0, must_link=[(0, 1), (1, 2)], cannot_link=[(0, 2)])
    assert outcome.clusters == ((0, 1), (2,))
    [refusal] = outcome.refused
    assert (refusal.left, refusal.right, refusal.reason) == (1, 2, RefusalReason.CANNOT_LINK)


def test_one_to_one_links_a_record_to_one_record_of_the_other_system() -> None:
    systems = [QB, SP, SP, TW]
    cross = lambda i, j: systems[i] != systems[j]  # noqa: E731
    pairs = [pair(0, 1, 10.0), pair(0, 2, 8.0), pair(0, 3, 7.0)]
    outcome = cluster(4, pairs, link_threshold=5.0, one_to_one=cross, systems=systems)
    # Record 0 keeps its best SharePoint partner and still links to Teamwork.
    assert outcome.clusters == ((0, 1, 3), (2,))
    [refusal] = outcome.refused
    assert (refusal.left, refusal.right, refusal.reason, refusal.between) == (0, 2, RefusalReason.ONE_TO_ONE, (0, 1))
    # Without the rule both SharePoint records join.
    assert cluster(4, pairs, link_threshold=5.0, systems=systems).clusters == ((0, 1, 2, 3),)


def test_one_to_one_needs_systems() -> None:
    with pytest.raises(ValueError, match="systems"):
        cluster(2, [], link_threshold=1.0, one_to_one=lambda i, j: True)


def test_duplicates_inside_one_system_are_allowed_and_reported() -> None:
    systems = [SP, SP, QB, TW, TW]
    pairs = [pair(0, 1, 9.0), pair(1, 2, 10.0), pair(2, 3, 11.0), pair(3, 4, 2.0)]
    outcome = cluster(5, pairs, link_threshold=5.0, systems=systems)
    assert outcome.clusters == ((0, 1, 2, 3), (4,))
    [dup] = outcome.duplicates
    assert (dup.cluster, dup.system, dup.records) == (0, SP, (0, 1))


def test_same_system_conflict_keeps_non_duplicates_apart() -> None:
    systems = [SP, QB, SP]
    # Two SharePoint records both look like the QuickBooks one but are not duplicates of each other.
    not_duplicates = lambda i, j: systems[i] == systems[j]  # noqa: E731
    outcome = cluster(
        3, [pair(0, 1, 9.0), pair(1, 2, 8.0)], link_threshold=5.0, conflicts=not_duplicates, systems=systems
    )
    assert outcome.clusters == ((0, 1), (2,))
    assert outcome.duplicates == ()


def test_max_cluster_size_stops_a_runaway_chain() -> None:
    pairs = [pair(i, i + 1, 10.0) for i in range(9)]
    outcome = cluster(10, pairs, link_threshold=5.0, max_cluster_size=4)
    assert max(len(c) for c in outcome.clusters) <= 4
    assert {r.reason for r in outcome.refused} == {RefusalReason.MAX_CLUSTER_SIZE}


def test_ties_are_broken_by_indices() -> None:
    # 1 may link to 0 or 2 at the same score; it conflicts with neither, but 0 and 2 conflict.
    outcome = cluster(3, [pair(1, 2, 7.0), pair(0, 1, 7.0)], link_threshold=5.0, conflicts=conflicting((0, 2)))
    assert outcome.clusters == ((0, 1), (2,))


def test_output_does_not_depend_on_input_order() -> None:
    rng = random.Random(5)
    n = 300
    systems = [rng.choice((SP, TW, QB)) for _ in range(n)]
    pairs = [pair(*two(rng, n), float(rng.randrange(0, 20))) for _ in range(900)]
    must = [two(rng, n) for _ in range(10)]
    cannot = [two(rng, n) for _ in range(30)]
    conflicts = conflicting(*[two(rng, n) for _ in range(400)])

    def run(order_seed: int) -> ClusterOutcome:
        shuffle = random.Random(order_seed)
        p, m, c = pairs[:], must[:], cannot[:]
        for items in (p, m, c):
            shuffle.shuffle(items)
        return cluster(
            n,
            p,
            link_threshold=6.0,
            must_link=m,
            cannot_link=c,
            conflicts=conflicts,
            one_to_one=lambda i, j: systems[i] != systems[j],
            systems=systems,
            max_cluster_size=8,
        )

    first = run(1)
    for seed in (2, 3):
        assert run(seed) == first
    # Every record once; a cluster of k records was made by k - 1 links.
    assert sorted(i for c in first.clusters for i in c) == list(range(n))
    assert len(first.links) == sum(len(c) - 1 for c in first.clusters)
    assert all(first.members(i) == c for c in first.clusters for i in c)


def test_pairs_outside_the_records_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        cluster(2, [pair(0, 5, 9.0)], link_threshold=1.0)
