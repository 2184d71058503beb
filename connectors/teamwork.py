"""Teamwork.com connector: companies are the customer records, read and written via the v3 API.

Teamwork has no concurrency token, so `update` emulates one with `updatedAt`
(see `TeamworkConnector.update` for why that check is only best effort).
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from connectors._changes import ChangeBatch, ChangeEvent
from connectors._errors import RecordNotFound, VersionConflict
from connectors._http import SourceClient, StaticAuth, build_http_client, json_body
from connectors._record import Project, RecordChanges, SourceRecord, SystemName
from connectors._settings import TeamworkSettings, UpstreamLimits
from connectors._teamwork_events import COMPANY_EVENTS, TeamworkWebhooks, company_event
from connectors._teamwork_mapping import (
    digits,
    is_owner,
    same_version,
    text,
    to_company_body,
    to_project,
    to_record,
    translate_error,
)
from connectors._values import parse_datetime

__all__ = ["TeamworkConnector"]

_V3 = "/projects/api/v3"
#: The largest v3 page public clients use (source-apis.md 2.2); also our ids-per-call batch.
_MAX_PAGE_SIZE = 500
#: Digits sent as `searchTerm` for a phone: the tail survives any formatting ("(415) 444-6538").
_PHONE_TAIL = 4


def _auth_headers(settings: TeamworkSettings) -> dict[str, str]:
    token = settings.bearer_token.get_secret_value()
    if token:
        auth = f"Bearer {token}"
    else:
        # Teamwork's convention: the API key as the user name, any password.
        pair = f"{settings.api_key.get_secret_value()}:X".encode()
        auth = f"Basic {base64.b64encode(pair).decode()}"
    return {"Authorization": auth, "Accept": "application/json"}


def _canonical_id(record_id: str) -> str | None:
    """Teamwork ids are integers; anything else cannot exist there (and must not reach the URL)."""
    try:
        value = int(str(record_id).strip())
    except ValueError:
        return None
    return str(value) if value > 0 else None


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _same_phone(a: str | None, b: str | None) -> bool:
    left, right = digits(a), digits(b)
    if not left or not right:
        return False
    if left == right:
        return True
    # One side may carry a country code ("+1 415 ..." vs "(415) ...").
    return min(len(left), len(right)) >= 7 and (left.endswith(right) or right.endswith(left))


class TeamworkConnector:
    """Teamwork companies as `SourceRecord`s (the site-owner company is never matched or listed)."""

    system = SystemName.TEAMWORK
    conditional_writes = False
    unique_attributes: frozenset[str] = frozenset()

    def __init__(
        self,
        settings: TeamworkSettings,
        limits: UpstreamLimits,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.page_size = min(settings.page_size, _MAX_PAGE_SIZE)
        self.client = SourceClient(
            SystemName.TEAMWORK,
            build_http_client(self.base_url, limits, transport),
            limits,
            StaticAuth(_auth_headers(settings)),
            translate_error,
            sleep=sleep,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def record_url(self, record_id: str) -> str:
        return f"{self.base_url}/app/companies/{record_id}"

    def _record(self, company: Mapping[str, Any]) -> SourceRecord:
        return to_record(company, self.record_url(str(company["id"])))

    # --- reads ----------------------------------------------------------------------------

    async def _company(self, record_id: str) -> dict[str, Any]:
        canonical = _canonical_id(record_id)
        if canonical is None:
            raise RecordNotFound(self.system, f"no company {record_id!r}", status=404)
        resp = await self.client.request("GET", f"{_V3}/companies/{canonical}.json", ok=(200,))
        return json_body(resp)["company"]

    async def _pages(self, path: str, params: Mapping[str, Any], key: str) -> AsyncIterator[dict[str, Any]]:
        """Every page of a v3 list: page numbers go up while `meta.page.hasMore` says so."""
        page = 1
        while True:
            resp = await self.client.request(
                "GET", f"{_V3}/{path}", params={**params, "page": page, "pageSize": self.page_size}, ok=(200,)
            )
            body = json_body(resp)
            yield body
            if not body.get(key) or not (body.get("meta") or {}).get("page", {}).get("hasMore"):
                return
            page += 1

    async def _companies(self, **params: Any) -> list[dict[str, Any]]:
        return [c async for body in self._pages("companies.json", params, "companies") for c in body["companies"]]

    async def fetch(self, record_id: str) -> SourceRecord:
        return self._record(await self._company(record_id))

    async def fetch_many(self, record_ids: Sequence[str]) -> list[SourceRecord | None]:
        """One `ids=` call per page-sized chunk, concurrently; None where Teamwork has no such company."""
        wanted = list(dict.fromkeys(c for c in map(_canonical_id, record_ids) if c is not None))
        batches = await asyncio.gather(*(self._companies(ids=",".join(chunk)) for chunk in _chunks(wanted, self.page_size)))
        found = {str(c["id"]): c for batch in batches for c in batch}
        out: list[SourceRecord | None] = []
        for record_id in record_ids:
            company = found.get(_canonical_id(record_id) or "")
            out.append(self._record(company) if company is not None else None)
        return out

    async def iterate(self) -> AsyncIterator[SourceRecord]:
        async for body in self._pages("companies.json", {}, "companies"):
            for company in body["companies"]:
                if not is_owner(company):
                    yield self._record(company)

    async def search(
        self, *, name: str | None = None, email: str | None = None, phone: str | None = None
    ) -> list[SourceRecord]:
        """`searchTerm` finds candidates; exact agreement is then checked here.

        A name matches as a case-insensitive substring, an email exactly (any of the three
        email fields, ignoring case), a phone by its digits (country code allowed).
        """
        queries: list[tuple[str, Callable[[Mapping[str, Any]], bool]]] = []
        if name and name.strip():
            needle = name.strip().lower()
            queries.append((name.strip(), lambda c: needle in (text(c.get("name")) or "").lower()))
        if email and email.strip():
            address = email.strip().lower()
            queries.append((email.strip(), lambda c: address in {
                (text(c.get(k)) or "").lower() for k in ("emailOne", "emailTwo", "emailThree")}))
        if phone and len(digits(phone)) >= _PHONE_TAIL:
            queries.append((digits(phone)[-_PHONE_TAIL:], lambda c: _same_phone(text(c.get("phone")), phone)))
        results = await asyncio.gather(*(self._companies(searchTerm=term) for term, _ in queries))
        matched: dict[str, SourceRecord] = {}
        for (_, agrees), companies in zip(queries, results):
            for company in companies:
                if not is_owner(company) and agrees(company):
                    matched.setdefault(str(company["id"]), self._record(company))
        return list(matched.values())

    async def projects_for(self, company_ids: Sequence[str]) -> dict[str, list[Project]]:
        """Projects per company id (every id given is a key): one `companyIds=` call per chunk."""
        canonical = {record_id: _canonical_id(record_id) for record_id in company_ids}
        wanted = list(dict.fromkeys(c for c in canonical.values() if c is not None))

        async def chunk_projects(chunk: Sequence[str]) -> list[Project]:
            params = {"companyIds": ",".join(chunk), "include": "users"}
            projects: list[Project] = []
            async for body in self._pages("projects.json", params, "projects"):
                owners = (body.get("included") or {}).get("users") or {}
                projects += [to_project(p, owners, self.base_url) for p in body["projects"]]
            return projects

        by_company: dict[str, list[Project]] = {}
        for projects in await asyncio.gather(*(chunk_projects(c) for c in _chunks(wanted, self.page_size))):
            for project in projects:
                by_company.setdefault(project.customer_id, []).append(project)
        return {record_id: list(by_company.get(c or "", [])) for record_id, c in canonical.items()}

    # --- writes ---------------------------------------------------------------------------

    async def create(self, changes: RecordChanges) -> SourceRecord:
        resp = await self.client.request("POST", f"{_V3}/companies.json", json=to_company_body(changes), ok=(200, 201))
        return self._record(json_body(resp)["company"])

    async def update(self, record_id: str, version: str | None, changes: RecordChanges) -> SourceRecord:
        """PATCH the changed fields; with `version`, only if the company still has `updatedAt == version`.

        Teamwork has no ETag, so the guard is a read-compare-write: it costs a GET before the
        PATCH, and a write landing between the two is still overwritten (last write wins).
        `version=None` skips the guard and the GET (`conditional_writes` is False so callers
        know the guard is not free).
        """
        canonical = _canonical_id(record_id)
        if canonical is None:
            raise RecordNotFound(self.system, f"no company {record_id!r}", status=404)
        if version is not None:
            current = await self._company(record_id)
            if not same_version(version, text(current.get("updatedAt"))):
                raise VersionConflict(
                    self.system, f"company {record_id} changed since it was read", status=409,
                    details={"expected": version, "current": current.get("updatedAt")},
                )
        body = to_company_body(changes)
        if not body["company"]:
            return await self.fetch(record_id)
        resp = await self.client.request("PATCH", f"{_V3}/companies/{canonical}.json", json=body, ok=(200,))
        return self._record(json_body(resp)["company"])

    # --- change events -------------------------------------------------------------------------

    def webhooks(self) -> TeamworkWebhooks:
        """Verifies and reads deliveries of the registrations made with `register_webhooks`."""
        return TeamworkWebhooks(self.settings.webhook_token)

    async def changes(self, checkpoint: str | None, *, margin_s: float = 30.0) -> ChangeBatch:
        """Companies whose `updatedAt` is at or after `checkpoint` minus `margin_s`; None starts from now.

        v3 companies have no confirmed `updatedAfter` filter (source-apis.md 2.2), so this pages
        through every company and compares. `updatedAt` has one-second precision and a scan is
        not atomic, hence the margin: a company seen again next round has the same dedup key.
        The next checkpoint is the newest `updatedAt` seen (Teamwork's clock, not ours).
        Companies deleted outright leave no trace here; their webhook (or reconcile) reports them.
        """
        since = parse_datetime(checkpoint)
        newest = since
        events: list[ChangeEvent] = []
        async for body in self._pages("companies.json", {}, "companies"):
            for company in body["companies"]:
                if is_owner(company):
                    continue
                updated = parse_datetime(company.get("updatedAt"))
                if updated is None:
                    continue
                if newest is None or updated > newest:
                    newest = updated
                if since is not None and updated >= since - timedelta(seconds=margin_s):
                    events.append(company_event(self._record(company)))
        resume = newest or datetime.now(UTC)
        return ChangeBatch(events=tuple(events), checkpoint=resume.astimezone(UTC).isoformat())

    async def register_webhooks(self, url: str, token: str, events: Sequence[str] = tuple(COMPANY_EVENTS)) -> dict[str, str]:
        """Site-level webhooks for `events` delivering to `url`, reusing registrations already there.

        v1 API (v3 has no webhook endpoints): `GET /webhooks.json` lists, `POST /webhooks.json`
        creates one event + URL + token (JSON, payload version 2), `PUT /webhooks/{id}.json`
        saves one again. A reused registration is saved again with our token: the listing
        does not show tokens, and saving is also how Teamwork reactivates a registration it
        switched off after dropped deliveries. Returns event -> registration id.
        """
        resp = await self.client.request("GET", "/webhooks.json", ok=(200,))
        listed = json_body(resp)
        hooks = listed.get("webhooks") if isinstance(listed, Mapping) else listed
        registered: dict[str, str] = {}
        for hook in hooks if isinstance(hooks, list) else []:
            if not isinstance(hook, Mapping) or str(hook.get("url", "")).rstrip("/") != url.rstrip("/"):
                continue
            event = str(hook.get("event", "")).upper()
            if event in events and hook.get("id") is not None:
                registered.setdefault(event, str(hook["id"]))
        for event in events:
            body = {"webhook": {"event": event, "url": url, "token": token,
                                "contentType": "application/json", "version": 2}}
            if event in registered:
                hook_path = f"/webhooks/{quote(registered[event], safe='')}.json"
                await self.client.request("PUT", hook_path, json=body, idempotent=True, ok=(200, 201, 204))
                continue
            created = json_body(await self.client.request("POST", "/webhooks.json", json=body, ok=(200, 201)))
            hook_id = created.get("id") if isinstance(created, Mapping) else None
            if hook_id is None and isinstance(created, Mapping) and isinstance(created.get("webhook"), Mapping):
                hook_id = created["webhook"].get("id")
            registered[event] = str(hook_id)
        return registered
