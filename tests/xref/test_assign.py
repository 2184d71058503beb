"""Golden ids stay put when clusters are recomputed (pure assignment rules)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from connectors import SystemName
from xref.assign import assign_golden_ids

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _new_ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"cus_new{next(counter)}"


def test_unchanged_clusters_keep_their_ids_and_create_none() -> None:
    current = {(SP, "1"): "cus_a", (QB, "1"): "cus_a", (TW, "5"): "cus_b"}
    result = assign_golden_ids([[(SP, "1"), (QB, "1")], [(TW, "5")]], current, {"cus_a": T0, "cus_b": T0}, _new_ids())

    assert result.cluster_ids == ("cus_a", "cus_b")
    assert result.new_ids == ()
    assert result.retired == {}


def test_a_new_cluster_gets_a_new_id_and_a_grown_cluster_keeps_its_id() -> None:
    current = {(SP, "1"): "cus_a"}
    result = assign_golden_ids([[(SP, "1"), (QB, "9")], [(TW, "5")]], current, {"cus_a": T0}, _new_ids())

    assert result.cluster_ids == ("cus_a", "cus_new1")
    assert result.new_ids == ("cus_new1",)


def test_merged_clusters_keep_the_id_holding_most_records_and_the_other_is_merged_into_it() -> None:
    current = {(SP, "1"): "cus_small", (SP, "2"): "cus_big", (QB, "2"): "cus_big"}
    created = {"cus_small": T0, "cus_big": T0 + timedelta(days=1)}
    result = assign_golden_ids([[(SP, "1"), (SP, "2"), (QB, "2")]], current, created, _new_ids())

    assert result.cluster_ids == ("cus_big",)
    assert result.retired == {"cus_small": "cus_big"}


def test_on_a_tie_the_earliest_created_id_wins() -> None:
    current = {(SP, "1"): "cus_z", (QB, "1"): "cus_a"}
    created = {"cus_z": T0, "cus_a": T0 + timedelta(seconds=1)}
    result = assign_golden_ids([[(SP, "1"), (QB, "1")]], current, created, _new_ids())

    assert result.cluster_ids == ("cus_z",)
    assert result.retired == {"cus_a": "cus_z"}


def test_a_split_leaves_the_id_with_the_larger_part_and_gives_the_other_a_new_one() -> None:
    current = {(SP, "1"): "cus_a", (QB, "1"): "cus_a", (TW, "1"): "cus_a"}
    result = assign_golden_ids([[(TW, "1")], [(SP, "1"), (QB, "1")]], current, {"cus_a": T0}, _new_ids())

    assert result.cluster_ids == ("cus_new1", "cus_a")
    assert result.retired == {}


def test_an_id_whose_records_are_gone_is_retired_without_a_target() -> None:
    current = {(SP, "1"): "cus_a", (QB, "1"): "cus_gone"}
    result = assign_golden_ids([[(SP, "1")]], current, {"cus_a": T0, "cus_gone": T0}, _new_ids())

    assert result.cluster_ids == ("cus_a",)
    assert result.retired == {"cus_gone": None}


def test_new_ids_go_to_customers_known_to_more_systems_first() -> None:
    clusters = [[(TW, "5")], [(SP, "1"), (QB, "1"), (TW, "1")], [(SP, "2"), (QB, "2")]]

    result = assign_golden_ids(clusters, {}, {}, _new_ids())

    assert result.new_ids == ("cus_new1", "cus_new2", "cus_new3")
    assert result.cluster_ids == ("cus_new3", "cus_new1", "cus_new2")


def test_golden_ids_sort_in_the_order_they_were_issued() -> None:
    from xref import new_golden_id

    issued = [new_golden_id() for _ in range(2000)]

    assert issued == sorted(issued)
    assert len(set(issued)) == len(issued)
    assert all(len(i) == len(issued[0]) for i in issued)
