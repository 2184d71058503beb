"""TeamworkConnector against the simulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors import (
    Address,
    AuthenticationFailed,
    Connector,
    CustomerStatus,
    RecordChanges,
    RecordNotFound,
    SourceRejected,
    SystemName,
    UpstreamLimits,
    VersionConflict,
)
from connectors.teamwork import TeamworkConnector
from sandbox._credentials import SandboxCredentials
from sandbox._server import ThreadedServer
from sandbox._store import Store
from gateway.sandbox_sources import teamwork_settings as sandbox_settings

FULL = RecordChanges(
    name="Bill's Windsurf Shop",
    email="surf@example.com",
    phone="(415) 444-6538",
    website="https://windsurf.example.com",
    address=Address(line1="12 Ocean Dr.", line2="Suite 4", city="Half Moon Bay", state="CA",
                    postal_code="94213", country="US"),
)


def test_connector_implements_the_protocol(connector: TeamworkConnector) -> None:
    assert isinstance(connector, Connector)
    assert connector.system is SystemName.TEAMWORK


async def test_every_field_round_trips_through_create_and_fetch(connector: TeamworkConnector) -> None:
    created = await connector.create(FULL)
    fetched = await connector.fetch(created.id)
    for record in (created, fetched):
        assert (record.name, record.email, record.phone, record.website) == (
            FULL.name, FULL.email, FULL.phone, FULL.website)
        assert record.address == FULL.address
        assert record.person_name is None and record.status is None
        assert record.version == record.raw["updatedAt"]
        assert record.updated_at is not None and record.updated_at.tzinfo is not None
        assert record.url == connector.record_url(created.id)
    assert fetched == created


async def test_country_names_are_written_as_iso_codes(connector: TeamworkConnector) -> None:
    created = await connector.create(RecordChanges(name="Maple", address=Address(city="Toronto", country="Canada")))
    assert created.address == Address(city="Toronto", country="CA")


async def test_empty_null_and_missing_all_mean_no_value(
    connector: TeamworkConnector, store: Store, company: Callable[..., dict[str, Any]]
) -> None:
    sparse = company(40, emailOne="", phone=None, website="  ", addressOne="", addressTwo="", city="",
                     state="", zip="", countryCode="")
    del sparse["fax"], sparse["cid"], sparse["updatedAt"]
    sparse["someFutureField"] = {"nested": True}
    store.collection("companies").put(40, sparse)
    record = await connector.fetch("40")
    assert (record.email, record.phone, record.website, record.address, record.version) == (None,) * 5
    assert record.raw["emailTwo"] == "billing40@c40.example.com"  # kept in raw, not mapped


async def test_deleted_status_maps_to_inactive(
    connector: TeamworkConnector, store: Store, company: Callable[..., dict[str, Any]]
) -> None:
    store.collection("companies").put(41, company(41, status="deleted"))
    assert (await connector.fetch("41")).status is CustomerStatus.INACTIVE
    assert (await connector.fetch("2")).status is None


async def test_fetch_of_unknown_or_malformed_id_raises_not_found(connector: TeamworkConnector) -> None:
    for record_id in ("999", "abc", "0"):
        with pytest.raises(RecordNotFound):
            await connector.fetch(record_id)


async def test_fetch_many_keeps_key_order_with_none_and_batches_by_page_size(
    make_connector: Callable[..., TeamworkConnector],
) -> None:
    connector = make_connector(page_size=4)
    keys = ["9", "999", "2", "x", "13", "2", "5", "6", "7", "8", "10"]
    records = await connector.fetch_many(keys)
    assert [r.id if r else None for r in records] == ["9", None, "2", None, "13", "2", "5", "6", "7", "8", "10"]
    # 9 distinct numeric ids in chunks of 4: three calls, never one per id
    assert connector.client.requests_sent == 3
    assert await connector.fetch_many([]) == []


async def test_iterate_follows_pages_and_skips_the_owner_company(
    make_connector: Callable[..., TeamworkConnector],
) -> None:
    connector = make_connector(page_size=5)
    ids = [record.id async for record in connector.iterate()]
    assert ids == [str(i) for i in range(2, 14)]
    assert connector.client.requests_sent == 3


async def test_search_by_name_email_and_phone(connector: TeamworkConnector) -> None:
    assert [r.id for r in await connector.search(name="company 03")] == ["3"]
    assert [r.id for r in await connector.search(email="INFO4@c4.example.com")] == ["4"]
    # emailTwo counts too; a substring of an address does not
    assert [r.id for r in await connector.search(email="billing5@c5.example.com")] == ["5"]
    assert await connector.search(email="info4@c4.example") == []
    # Phone matches by digits whatever the formatting, country code allowed
    assert [r.id for r in await connector.search(phone="+1 217.555.0106")] == ["6"]
    union = await connector.search(name="Company 07", email="info8@c8.example.com", phone="217-555-0109")
    assert sorted(r.id for r in union) == ["7", "8", "9"]
    assert await connector.search() == []


async def test_search_never_returns_the_owner_company(connector: TeamworkConnector) -> None:
    assert await connector.search(name="Our Agency", email="hello@agency.example.com") == []


async def test_projects_for_groups_by_company_in_one_call_per_chunk(
    make_connector: Callable[..., TeamworkConnector],
) -> None:
    connector = make_connector(page_size=2)
    projects = await connector.projects_for(["2", "3", "4", "nope"])
    assert set(projects) == {"2", "3", "4", "nope"}
    assert [p.id for p in projects["2"]] == ["100", "101"]
    assert projects["4"] == [] and projects["nope"] == []
    current, archived = projects["2"]
    assert (current.name, current.status, current.sub_status, current.owner) == (
        "Project 100", "active", "current", "Brenda Bates")
    assert (current.start_date, current.end_date) == (date(2024, 3, 1), date(2024, 6, 30))
    assert current.updated_at == datetime(2024, 5, 20, 9, 40, 12, tzinfo=timezone.utc)
    assert current.customer_id == "2" and current.system is SystemName.TEAMWORK
    assert archived.status == "archived"
    assert projects["3"][0].start_date is None
    # ids 2,3 in one chunk (3 projects: two pages of 2), id 4 in another
    assert connector.client.requests_sent == 3


async def test_update_writes_changes_and_returns_the_new_version(connector: TeamworkConnector) -> None:
    before = await connector.fetch("3")
    after = await connector.update("3", before.version, RecordChanges(email="new@c3.example.com"))
    assert after.email == "new@c3.example.com" and after.name == before.name
    assert after.address == before.address and after.phone == before.phone
    assert after.version != before.version
    assert (await connector.fetch("3")) == after


async def test_update_with_stale_updated_at_is_a_version_conflict(
    connector: TeamworkConnector, api: httpx.Client
) -> None:
    read = await connector.fetch("4")
    # Someone edits the company in Teamwork after we read it
    api.patch("/projects/api/v3/companies/4.json", json={"company": {"city": "Elsewhere"}}).raise_for_status()
    with pytest.raises(VersionConflict):
        await connector.update("4", read.version, RecordChanges(name="Mine"))
    current = await connector.fetch("4")
    assert current.name == read.name and current.address.city == "Elsewhere"
    updated = await connector.update("4", current.version, RecordChanges(name="Mine"))
    assert updated.name == "Mine" and updated.address.city == "Elsewhere"


async def test_update_without_version_is_last_write_wins(connector: TeamworkConnector) -> None:
    assert (await connector.update("5", None, RecordChanges(phone="555 0000"))).phone == "555 0000"


async def test_empty_changes_do_not_write(connector: TeamworkConnector) -> None:
    before = await connector.fetch("6")
    assert await connector.update("6", before.version, RecordChanges()) == before


async def test_create_without_name_is_rejected(connector: TeamworkConnector) -> None:
    with pytest.raises(SourceRejected):
        await connector.create(RecordChanges(email="nameless@example.com"))


async def test_wrong_api_key_fails_authentication(
    server: ThreadedServer, credentials: SandboxCredentials
) -> None:
    settings = sandbox_settings(server.url, credentials).model_copy(update={"api_key": SecretStr("wrong")})
    connector = TeamworkConnector(settings, UpstreamLimits(timeout_s=5))
    try:
        with pytest.raises(AuthenticationFailed):
            await connector.fetch("2")
        assert connector.client.requests_sent == 1  # a bad key is never retried
    finally:
        await connector.aclose()


async def test_bearer_token_is_used_when_configured(
    server: ThreadedServer, credentials: SandboxCredentials
) -> None:
    settings = sandbox_settings(server.url, credentials).model_copy(
        update={"api_key": SecretStr(""), "bearer_token": SecretStr(credentials.teamwork_api_key)})
    connector = TeamworkConnector(settings, UpstreamLimits(timeout_s=5))
    try:
        assert (await connector.fetch("2")).id == "2"
    finally:
        await connector.aclose()


async def test_a_429_storm_is_ridden_out_honouring_retry_after(
    make_connector: Callable[..., TeamworkConnector], admin: httpx.Client
) -> None:
    admin.patch("/_admin/faults", json={"rate_limit_per_minute": 3, "rate_window_s": 1}).raise_for_status()
    connector = make_connector(page_size=1)
    records = await connector.fetch_many([str(i) for i in range(2, 9)])
    assert [r.id for r in records if r] == [str(i) for i in range(2, 9)]
    assert connector.client.requests_sent > 7  # some calls were throttled and sent again


async def test_without_retry_after_the_rate_limit_reset_header_sets_the_wait(
    make_connector: Callable[..., TeamworkConnector], admin: httpx.Client
) -> None:
    admin.patch("/_admin/faults", json={"rate_limit_per_minute": 2, "rate_window_s": 1,
                                        "send_retry_after": False}).raise_for_status()
    waits: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    connector = make_connector(page_size=1, sleep=recording_sleep)
    records = await connector.fetch_many(["2", "3", "4"])
    assert all(records)
    # The computed backoff would start near 0.1 s; X-Rate-Limit-Reset asked for a whole second.
    assert waits and min(waits) >= 1


async def test_a_two_second_outage_is_ridden_out(
    connector: TeamworkConnector, admin: httpx.Client
) -> None:
    admin.patch("/_admin/faults", json={"outage": True, "outage_for_s": 2}).raise_for_status()
    record = await connector.fetch("2")
    assert record.name == "Company 02 Ltd"
    assert connector.client.requests_sent > 1



async def test_update_without_version_is_one_patch_and_an_unknown_company_is_not_found(
    connector: TeamworkConnector,
) -> None:
    sent = connector.client.requests_sent
    await connector.update("7", None, RecordChanges(phone="(217) 555-0999"))
    assert connector.client.requests_sent - sent == 1
    with pytest.raises(RecordNotFound):
        await connector.update("9999", None, RecordChanges(phone="(217) 555-0998"))
