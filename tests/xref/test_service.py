"""XrefService on SQLite and PostgreSQL: applying clusters with stable ids, and the queries resolvers use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors import SystemName
from xref import GoldenCustomer, InvalidCursor, Link, XrefError, XrefService, create_sessions
from xref.matching import Cluster, RecordKey

SP, TW, QB = SystemName.SHAREPOINT, SystemName.TEAMWORK, SystemName.QUICKBOOKS


def clusters(*groups: list[RecordKey]) -> list[Cluster]:
    """Clusters as the matcher would give them, with a fixed piece of evidence per member."""
    return [
        Cluster(
            members=tuple(sorted(group)),
            evidence={m: {"matched": [{"rule": "email", "value_hash": "0123456789"}]} for m in group},
            confidence={m: 0.99 for m in group},
        )
        for group in groups
    ]


@contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def snapshot(engine: AsyncEngine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    async with create_sessions(engine)() as session:
        links = (await session.execute(select(Link.__table__).order_by(Link.id))).all()
        customers = (await session.execute(select(GoldenCustomer.__table__).order_by(GoldenCustomer.id))).all()
    return [tuple(r) for r in links], [tuple(r) for r in customers]


async def test_applying_clusters_creates_one_customer_per_cluster(service: XrefService) -> None:
    result = await service.apply_clusters(clusters([(SP, "1"), (QB, "58"), (TW, "9001")], [(SP, "2")]))

    assert (result.customers_created, result.links_added) == (2, 4)
    golden = await service.customer_for(SP, "1")
    assert golden is not None and golden.startswith("cus_") and len(golden) == 24
    assert await service.customer_for(QB, "58") == golden
    assert await service.customer_for(SP, "2") not in (None, golden)
    assert await service.customer_for(SP, "404") is None
    customer = await service.get(golden)
    assert customer is not None
    assert [link.key for link in customer.links] == [(QB, "58"), (SP, "1"), (TW, "9001")]
    assert customer.systems == {SP, QB, TW}
    assert customer.links[0].decided_by == "matcher:exact-v1"
    assert customer.links[0].evidence == {"matched": [{"rule": "email", "value_hash": "0123456789"}]}


async def test_reapplying_the_same_clusters_writes_nothing(service: XrefService, engine: AsyncEngine) -> None:
    given = clusters([(SP, "1"), (QB, "58")], [(TW, "7")])
    await service.apply_clusters(given)
    before = await snapshot(engine)

    with count_statements(engine) as statements:
        result = await service.apply_clusters(given)

    assert not result.changed
    assert result.links_unchanged == 3
    assert await snapshot(engine) == before
    assert not [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


async def test_a_record_joining_a_customer_keeps_its_id(service: XrefService) -> None:
    await service.apply_clusters(clusters([(SP, "1")]))
    golden = await service.customer_for(SP, "1")

    result = await service.apply_clusters(clusters([(SP, "1"), (QB, "58")]))

    assert await service.customer_for(QB, "58") == golden
    assert (result.customers_created, result.links_added, result.links_unchanged) == (0, 1, 1)


async def test_merging_two_customers_keeps_the_larger_and_the_old_id_still_resolves(service: XrefService) -> None:
    await service.apply_clusters(clusters([(SP, "1"), (QB, "1")], [(TW, "1")]))
    big, small = await service.customer_for(SP, "1"), await service.customer_for(TW, "1")
    assert big is not None and small is not None

    result = await service.apply_clusters(clusters([(SP, "1"), (QB, "1"), (TW, "1")]))

    assert (result.links_moved, result.customers_retired, result.customers_created) == (1, 1, 0)
    merged = await service.get(small)
    assert merged is not None
    assert merged.id == big and merged.merged_from == (small,)
    assert [link.key for link in merged.links] == [(QB, "1"), (SP, "1"), (TW, "1")]
    assert (await service.counts())["customers"] == 1


async def test_a_split_gives_the_smaller_part_a_new_id(service: XrefService) -> None:
    await service.apply_clusters(clusters([(SP, "1"), (QB, "1"), (TW, "1")]))
    golden = await service.customer_for(SP, "1")

    result = await service.apply_clusters(clusters([(SP, "1"), (QB, "1")], [(TW, "1")]))

    assert await service.customer_for(QB, "1") == golden
    split_off = await service.customer_for(TW, "1")
    assert split_off not in (None, golden)
    assert (result.customers_created, result.links_moved) == (1, 1)


async def test_ids_are_never_reused_after_a_customer_is_retired(service: XrefService) -> None:
    await service.apply_clusters(clusters([(SP, "1")]))
    old = await service.customer_for(SP, "1")
    assert old is not None

    result = await service.apply_clusters([])  # the record is gone from SharePoint
    assert (result.links_removed, result.customers_retired) == (1, 1)
    retired = await service.get(old)
    assert retired is not None and retired.retired_at is not None and retired.links == ()

    await service.apply_clusters(clusters([(SP, "1")]))  # and comes back
    assert await service.customer_for(SP, "1") not in (None, old)


async def test_links_of_systems_outside_the_run_are_left_alone(service: XrefService) -> None:
    await service.apply_clusters(clusters([(SP, "1"), (QB, "1")]))
    golden = await service.customer_for(QB, "1")

    result = await service.apply_clusters(clusters([(SP, "2")]), systems=[SP])

    assert result.links_removed == 1
    assert await service.customer_for(QB, "1") == golden
    customer = await service.get(golden or "")
    assert customer is not None and customer.retired_at is None


async def test_a_record_in_two_clusters_is_refused(service: XrefService) -> None:
    with pytest.raises(XrefError):
        await service.apply_clusters(clusters([(SP, "1")], [(SP, "1"), (QB, "2")]))


async def test_links_for_many_customers_is_one_query(service: XrefService, engine: AsyncEngine) -> None:
    await service.apply_clusters(clusters(*[[(SP, str(i)), (QB, str(i))] for i in range(20)]))
    ids = [await service.customer_for(SP, str(i)) or "" for i in range(20)]

    with count_statements(engine) as statements:
        links = await service.links_for([*ids, "cus_unknown"])

    assert len([s for s in statements if "FROM link" in s]) == 1
    assert links["cus_unknown"] == []
    assert all([link.key for link in links[ids[i]]] == [(QB, str(i)), (SP, str(i))] for i in range(20))


async def test_customers_for_maps_search_hits_to_golden_ids(service: XrefService) -> None:
    await service.apply_clusters(clusters([(SP, "1"), (QB, "58")], [(TW, "9")]))

    found = await service.customers_for([(SP, "1"), (QB, "58"), (TW, "9"), (TW, "404")])

    assert found[(SP, "1")] == found[(QB, "58")] != found[(TW, "9")]
    assert (TW, "404") not in found


async def test_get_of_an_unknown_id_is_none(service: XrefService) -> None:
    assert await service.get("cus_doesnotexist") is None


async def test_list_customers_pages_through_every_customer_once(service: XrefService) -> None:
    await service.apply_clusters(clusters(*[[(SP, str(i))] for i in range(25)]))

    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        page = await service.list_customers(first=10, after=after)
        pages += 1
        assert page.total == 25
        seen += [c.id for c in page.customers]
        if not page.has_next_page:
            break
        after = page.end_cursor

    assert pages == 3
    assert seen == sorted(seen) and len(set(seen)) == 25
    assert all(len(c.links) == 1 for c in (await service.list_customers(first=5)).customers)


async def test_list_customers_filters_by_systems_and_skips_retired(service: XrefService) -> None:
    await service.apply_clusters(
        clusters([(SP, "1"), (QB, "1"), (TW, "1")], [(SP, "2"), (QB, "2")], [(QB, "3")], [(TW, "4")])
    )
    await service.apply_clusters(
        clusters([(SP, "1"), (QB, "1"), (TW, "1")], [(SP, "2"), (QB, "2")], [(QB, "3")])
    )  # TW 4 is gone: its customer is retired

    everyone = await service.list_customers(first=10)
    in_qb = await service.list_customers(first=10, systems=[QB])
    in_sp_and_qb = await service.list_customers(first=1, systems=[SP, QB])

    assert everyone.total == 3
    assert in_qb.total == 3
    assert in_sp_and_qb.total == 2 and len(in_sp_and_qb.customers) == 1 and in_sp_and_qb.has_next_page
    rest = await service.list_customers(first=10, after=in_sp_and_qb.end_cursor, systems=[SP, QB])
    assert {c.systems for c in [*in_sp_and_qb.customers, *rest.customers]} == {frozenset({SP, QB, TW}), frozenset({SP, QB})}


async def test_list_customers_refuses_foreign_cursors_and_bad_sizes(service: XrefService) -> None:
    with pytest.raises(InvalidCursor):
        await service.list_customers(first=10, after="not-a-cursor")
    with pytest.raises(ValueError):
        await service.list_customers(first=-1)
    empty = await service.list_customers(first=10)
    assert (empty.customers, empty.end_cursor, empty.has_next_page, empty.total) == ((), None, False, 0)


async def test_counts_report_customers_and_links_per_system(service: XrefService) -> None:
    await service.apply_clusters(clusters([(SP, "1"), (QB, "1")], [(SP, "2")], [(TW, "3")]))

    assert await service.counts() == {"customers": 3, "retired": 0, "links": {SP: 2, QB: 1, TW: 1}}


async def test_new_evidence_updates_the_link_but_not_its_customer(service: XrefService) -> None:
    await service.apply_clusters(clusters([(SP, "1"), (QB, "1")]))
    before = await service.get(await service.customer_for(SP, "1") or "")
    phone_too = {"matched": [{"rule": "email", "value_hash": "0123456789"}, {"rule": "phone", "value_hash": "abcdef0123"}]}
    again = Cluster(
        members=((QB, "1"), (SP, "1")),
        evidence={(QB, "1"): phone_too, (SP, "1"): phone_too},
        confidence={(QB, "1"): 0.99, (SP, "1"): 0.99},
    )

    result = await service.apply_clusters([again])

    assert (result.links_updated, result.links_moved, result.links_unchanged) == (2, 0, 0)
    after = await service.get(before.id if before else "")
    assert before is not None and after is not None
    assert after.links[0].evidence == phone_too
    assert after.links[0].updated_at >= before.links[0].updated_at
    assert after.links[0].created_at == before.links[0].created_at


async def test_read_cache_answers_repeat_lookups_without_the_database_and_writes_clear_it(engine: AsyncEngine) -> None:
    from xref import upgrade

    await upgrade(engine)
    cached = XrefService(create_sessions(engine), read_cache_ttl_s=60)
    await cached.apply_clusters(clusters([(SP, "1"), (QB, "1")]))
    golden = await cached.customer_for(SP, "1")
    assert golden is not None
    await cached.get(golden)
    await cached.links_for([golden])

    with count_statements(engine) as statements:
        again = await cached.get(golden)
        links = await cached.links_for([golden])
    assert statements == []
    assert again is not None and {link.key for link in links[golden]} == {(SP, "1"), (QB, "1")}

    await cached.apply_clusters(clusters([(SP, "1")], [(QB, "1")]))

    after = await cached.get(golden)
    assert after is not None and {link.key for link in after.links} == {(SP, "1")}


async def test_without_a_ttl_every_lookup_reads_the_database(service: XrefService, engine: AsyncEngine) -> None:
    await service.apply_clusters(clusters([(SP, "1")]))
    golden = await service.customer_for(SP, "1")
    assert golden is not None
    await service.get(golden)

    with count_statements(engine) as statements:
        await service.get(golden)
    assert statements


async def test_read_cache_sweeps_out_expired_entries_once_it_grows(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xref._service as service_module

    monkeypatch.setattr(service_module, "_READ_CACHE_SWEEP_AT", 3)
    cached = XrefService(create_sessions(engine), read_cache_ttl_s=60)
    cached._got.update({f"cus_old{n}": (10.0, None) for n in range(3)})
    cached._got["cus_fresh"] = (100.0, None)

    cached._evict_expired(now=50.0)

    assert set(cached._got) == {"cus_fresh"}


async def test_removing_links_to_gone_records_retires_a_customer_left_without_any(service: XrefService) -> None:
    await service.apply_clusters(clusters([(SP, "1"), (TW, "9")], [(QB, "58")], [(SP, "2")]))
    kept, lone, elsewhere = (await service.customer_for(SP, "1"), await service.customer_for(QB, "58"),
                             await service.customer_for(SP, "2"))
    assert kept is not None and lone is not None

    partly = await service.remove_links(kept, [(TW, "9"), (SP, "2")])  # SP 2 is another customer's: left alone
    whole = await service.remove_links(lone, [(QB, "58")])

    assert [link.key for link in partly.removed] == [(TW, "9")] and partly.skipped == ((SP, "2"),)
    assert not partly.retired and await service.customer_for(SP, "2") == elsewhere
    assert [link.key for link in (await service.get(kept)).links] == [(SP, "1")]  # type: ignore[union-attr]
    assert whole.retired and await service.customer_for(QB, "58") is None
    gone = await service.get(lone)
    assert gone is not None and gone.links == () and gone.retired_at is not None and gone.merged_from == ()
    assert (await service.remove_links(lone, [(QB, "58")])).removed == ()  # again: nothing left to remove
