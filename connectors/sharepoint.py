"""SharePoint Online list "Customers" through Microsoft Graph v1.0 (source-apis.md section 1).

Reads of many ids and per-customer document lookups go through JSON `$batch` (at most
20 sub-requests each, several batches at once); throttled sub-requests are retried
after their own `Retry-After`. With `or_filter_terms` above 1 (the default), each
sub-request asks for that many keys at once (`k1 or k2 ...`), so a page of 100 customers
is one `$batch` per relation instead of five. Whether a tenant accepts `or` in list-item
filters is a "(verify)" item in source-apis.md: the first refusal (HTTP 400 on an `or`
filter) switches this connector to one key per sub-request for the rest of its life,
and the call that was refused is answered that way, so a user never sees the probe.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import UTC, datetime
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from connectors._changes import ChangeBatch, ChangeEvent, FeedExpired, Subscription
from connectors._errors import RecordNotFound, SourceRejected
from connectors._http import SourceClient, Sleep, build_http_client, json_body
from connectors._record import Document, RecordChanges, SourceRecord, SystemName
from connectors._retry import parse_retry_after, retry_delay
from connectors._settings import SharePointSettings, UpstreamLimits
from connectors._sharepoint_auth import GraphTokenAuth
from connectors._sharepoint_events import GraphNotifications, delta_event
from connectors._sharepoint_wire import (
    CUSTOMER_COLUMNS,
    DOCUMENT_COLUMNS,
    PREFER_NON_INDEXED,
    document_from_item,
    error_from_parts,
    fields_from_changes,
    odata_string,
    query_string,
    record_from_item,
    translate_error,
    web_url_prefix,
)
from connectors._values import parse_datetime, text

__all__ = ["SharePointConnector"]

log = logging.getLogger(__name__)

#: Graph's JSON batch limit (source-apis.md 1.8).
MAX_BATCH = 20
#: Batches in flight at once for one call; more would only trip throttling sooner.
BATCH_CONCURRENCY = 4
#: Largest page of list items we ask for (source-apis.md 1.3: use <= 200).
PAGE_SIZE = 200
#: A `$filter` longer than this is split (URLs over ~2,000 characters are refused by some proxies).
MAX_FILTER_CHARS = 1800
#: Sub-request statuses worth another try (all batched sub-requests here are reads).
_RETRY_SUB_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class _SubResponse:
    status: int
    headers: Mapping[str, str]
    body: Any


class _OrFilterRefused(Exception):
    """The tenant answered 400 to a `$filter` joining keys with `or`."""


#: Spellings of one North American number seen in the Phone column (a free-text column, so people
#: type it many ways); Graph `eq` is exact apart from case, so search asks for each of them.
_PHONE_SPELLINGS = (
    "({a}) {b}-{c}", "{a}-{b}-{c}", "+1 {a} {b} {c}", "{a}.{b}.{c}", "{a}{b}{c}", "+1{a}{b}{c}",
)


def _phone_variants(phone: str) -> list[str]:
    """The raw input plus the usual spellings of a 10-digit (optionally +1) number."""
    raw = phone.strip()
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        return [raw]
    parts = {"a": digits[:3], "b": digits[3:6], "c": digits[6:]}
    return _unique([*(f.format(**parts) for f in _PHONE_SPELLINGS), raw])


def _unique(values: Sequence[str | None]) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value and value not in seen:
            seen.append(value)
    return seen


class SharePointConnector:
    """The Customers list (and its document library) of one SharePoint site."""

    system = SystemName.SHAREPOINT
    conditional_writes = True
    unique_attributes: frozenset[str] = frozenset()

    def __init__(
        self,
        settings: SharePointSettings,
        limits: UpstreamLimits,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.limits = limits
        self._sleep = sleep
        self.auth = GraphTokenAuth(settings, limits, sleep=sleep)
        http = build_http_client(settings.base_url, limits, transport)
        self.client = SourceClient(self.system, http, limits, self.auth, translate_error, sleep=sleep)
        site = quote(settings.site_id, safe=",")
        self._items = f"/sites/{site}/lists/{quote(settings.list_id, safe='')}/items"
        self._documents = f"/sites/{site}/lists/{quote(settings.documents_list_id, safe='')}/items"
        self._filter_headers = {"Prefer": PREFER_NON_INDEXED} if settings.honor_non_indexed_queries else {}
        self._web_prefix: str | None = None
        #: Set once the tenant refuses `or` in a list-item filter; never reset (a tenant does not change).
        self._or_refused = False

    async def aclose(self) -> None:
        await self.client.aclose()

    # --- mapping helpers ----------------------------------------------------------------------

    def _record(self, item: Mapping[str, Any]) -> SourceRecord:
        if self._web_prefix is None:
            self._web_prefix = web_url_prefix(item.get("webUrl"))
        record = record_from_item(item)
        if record.url is None and record.id:
            return record_from_item(item, self.record_url(record.id))
        return record

    def record_url(self, record_id: str) -> str:
        """The item's webUrl (`.../Lists/Customers/17_.000`), learned from the first item seen."""
        if self._web_prefix is not None:
            return f"{self._web_prefix}{record_id}_.000"
        host = self.settings.site_id.split(",")[0]
        return f"https://{host}/Lists/{quote(self.settings.list_id)}/{record_id}_.000"

    def _list_url(self, path: str, columns: Sequence[str], filter_: str | None = None) -> str:
        params = {"expand": f"fields(select={','.join(columns)})", "$top": str(PAGE_SIZE)}
        if filter_ is not None:
            params["$filter"] = filter_
        return f"{path}?{query_string(params)}"

    # --- reads ----------------------------------------------------------------------------------

    async def fetch(self, record_id: str) -> SourceRecord:
        if not record_id.isdigit():
            raise RecordNotFound(self.system, f"no list item {record_id!r}", status=404)
        resp = await self.client.request("GET", f"{self._items}/{record_id}?expand=fields", ok=(200,))
        return self._record(json_body(resp))

    def _or_filters(self, column: str, keys: Sequence[str]) -> list[str]:
        """`column eq k1 or column eq k2 ...`, at most `or_filter_terms` terms and MAX_FILTER_CHARS each."""
        filters: list[str] = []
        terms: list[str] = []
        for key in keys:
            term = f"{column} eq {odata_string(key)}"
            if terms and (len(terms) >= self.settings.or_filter_terms
                          or sum(len(t) + 4 for t in terms) + len(term) > MAX_FILTER_CHARS):
                filters.append(" or ".join(terms))
                terms = []
            terms.append(term)
        if terms:
            filters.append(" or ".join(terms))
        return filters

    async def _filtered_items(self, path: str, columns: Sequence[str], filters: Sequence[str]) -> list[Mapping[str, Any]]:
        """Every item any of `filters` finds (all pages), the filters sent together through `$batch`."""
        urls = [self._list_url(path, columns, f) for f in filters]
        answers = await self._batch_get([(u, self._filter_headers) for u in urls])
        items: list[Mapping[str, Any]] = []
        for query, answer in zip(filters, answers, strict=True):
            if answer.status == 400 and " or " in query:
                raise _OrFilterRefused(error_from_parts(answer.status, answer.headers, answer.body))
            if answer.status != 200:
                raise error_from_parts(answer.status, answer.headers, answer.body)
            async for item in self._pages("", answer.body, self._filter_headers):
                items.append(item)
        return items

    async def _items_by_keys(self, path: str, columns: Sequence[str], column: str,
                             keys: Sequence[str]) -> list[Mapping[str, Any]] | None:
        """Items whose `column` is one of `keys`, several keys per `or` filter; None when `or` is off
        or the tenant refused it (the caller then asks one key per sub-request)."""
        if self.settings.or_filter_terms <= 1 or self._or_refused:
            return None
        try:
            return await self._filtered_items(path, columns, self._or_filters(column, keys))
        except _OrFilterRefused as refused:
            self._or_refused = True
            log.warning("SharePoint refused `or` in a list-item filter (%s); asking one key per $batch "
                        "sub-request from now on (set or_filter_terms=0 to skip the attempt)", refused.args[0])
            return None

    async def fetch_many(self, record_ids: Sequence[str]) -> list[SourceRecord | None]:
        wanted = _unique([rid for rid in record_ids if rid.isdigit()])
        items = await self._items_by_keys(self._items, CUSTOMER_COLUMNS, "fields/id", wanted)
        if items is not None:
            by_id = {record.id: record for record in map(self._record, items)}
            return [by_id.get(rid) for rid in record_ids]
        answers = await self._batch_get([(f"{self._items}/{rid}?expand=fields", {}) for rid in wanted])
        found: dict[str, SourceRecord | None] = {}
        for rid, answer in zip(wanted, answers, strict=True):
            if answer.status == 200:
                found[rid] = self._record(answer.body)
            elif answer.status == 404:
                found[rid] = None
            else:
                raise error_from_parts(answer.status, answer.headers, answer.body)
        return [found.get(rid) for rid in record_ids]

    async def iterate(self) -> AsyncIterator[SourceRecord]:
        async for item in self._pages(self._list_url(self._items, CUSTOMER_COLUMNS)):
            yield self._record(item)

    async def _pages(self, url: str, first: Mapping[str, Any] | None = None,
                     headers: Mapping[str, str] | None = None) -> AsyncIterator[Mapping[str, Any]]:
        """Items of a listing, following `@odata.nextLink` verbatim until it is absent."""
        next_url: str | None = url
        body = first
        while True:
            if body is None:
                assert next_url is not None
                body = json_body(await self.client.request("GET", next_url, headers=headers, ok=(200,)))
            for item in body.get("value") or []:
                yield item
            next_url = body.get("@odata.nextLink")
            if not next_url:
                return
            body = None

    async def search(
        self, *, name: str | None = None, email: str | None = None, phone: str | None = None
    ) -> list[SourceRecord]:
        filters: list[str] = []
        if name and name.strip():
            q = odata_string(name.strip())
            filters += [f"startswith(fields/Title,{q})", f"fields/Title eq {q}"]
        if email and email.strip():
            # Graph eq on text columns ignores case on SharePoint, but ask for the usual variants anyway.
            e = email.strip()
            filters += [f"fields/EmailPrimary eq {odata_string(v)}" for v in _unique([e, e.lower()])]
        if phone and phone.strip():
            filters += [f"fields/Phone eq {odata_string(v)}" for v in _phone_variants(phone)]
        if not filters:
            return []
        urls = [self._list_url(self._items, CUSTOMER_COLUMNS, f) for f in filters]
        answers = await self._batch_get([(u, self._filter_headers) for u in urls])
        results: dict[str, SourceRecord] = {}
        for answer in answers:
            if answer.status != 200:
                raise error_from_parts(answer.status, answer.headers, answer.body)
            async for item in self._pages("", answer.body, self._filter_headers):
                record = self._record(item)
                results.setdefault(record.id, record)
        return list(results.values())

    async def documents_for(self, customer_ids: Sequence[str]) -> dict[str, list[Document]]:
        """Each customer's files in the document library: one `$filter` per customer (or per `or_filter_terms`
        customers), sent by `$batch`."""
        wanted = _unique([cid for cid in customer_ids if cid.isdigit()])
        items = await self._items_by_keys(self._documents, DOCUMENT_COLUMNS, "fields/CustomerLookupId", wanted)
        if items is not None:
            found: dict[str, list[Document]] = {cid: [] for cid in customer_ids}
            for item in items:
                owner = str((item.get("fields") or {}).get("CustomerLookupId") or "")
                if owner in found:
                    found[owner].append(document_from_item(item, owner))
            return found
        urls = [
            self._list_url(self._documents, DOCUMENT_COLUMNS, f"fields/CustomerLookupId eq {odata_string(cid)}")
            for cid in wanted
        ]
        answers = await self._batch_get([(u, self._filter_headers) for u in urls])
        documents: dict[str, list[Document]] = {cid: [] for cid in customer_ids}
        for cid, answer in zip(wanted, answers, strict=True):
            if answer.status != 200:
                raise error_from_parts(answer.status, answer.headers, answer.body)
            async for item in self._pages("", answer.body, self._filter_headers):
                documents[cid].append(document_from_item(item, cid))
        return documents

    # --- $batch ---------------------------------------------------------------------------------

    async def _batch_get(self, requests: Sequence[tuple[str, Mapping[str, str]]]) -> list[_SubResponse]:
        """GET each (url, headers) through `$batch`; answers in request order (never 429/5xx)."""
        results: list[_SubResponse | None] = [None] * len(requests)
        gate = asyncio.Semaphore(BATCH_CONCURRENCY)

        async def run(indices: list[int]) -> None:
            async with gate:
                await self._run_batch(requests, indices, results)

        chunks = [list(range(i, min(i + MAX_BATCH, len(requests)))) for i in range(0, len(requests), MAX_BATCH)]
        await asyncio.gather(*(run(chunk) for chunk in chunks))
        return [r for r in results if r is not None]

    async def _run_batch(
        self,
        requests: Sequence[tuple[str, Mapping[str, str]]],
        indices: list[int],
        results: list[_SubResponse | None],
    ) -> None:
        started = time.monotonic()
        pending = indices
        attempt = 0
        while True:
            payload = {"requests": [
                {"id": str(i), "method": "GET", "url": requests[i][0],
                 **({"headers": dict(requests[i][1])} if requests[i][1] else {})}
                for i in pending
            ]}
            resp = await self.client.request("POST", "/$batch", json=payload, idempotent=True, ok=(200,))
            answers = {str(r.get("id")): r for r in json_body(resp).get("responses") or [] if isinstance(r, Mapping)}
            retry: list[int] = []
            waits: list[float] = []
            last_failure: _SubResponse | None = None
            for i in pending:
                answer = answers.get(str(i))
                sub = _SubResponse(
                    int(answer.get("status") or 0) if answer else 0,
                    {str(k): str(v) for k, v in (answer.get("headers") or {}).items()} if answer else {},
                    answer.get("body") if answer else None,
                )
                if sub.status in _RETRY_SUB_STATUSES or sub.status == 0:
                    retry.append(i)
                    last_failure = sub
                    header = next((v for k, v in sub.headers.items() if k.lower() == "retry-after"), None)
                    if header is not None and (asked := parse_retry_after(header)) is not None:
                        waits.append(min(asked, self.limits.retry_after_max_s))
                else:
                    results[i] = sub
            if not retry:
                return
            attempt += 1
            delay = max(waits) if waits else retry_delay(None, attempt - 1, self.limits)
            if attempt >= self.limits.max_attempts or time.monotonic() - started + delay > self.limits.retry_deadline_s:
                assert last_failure is not None
                raise error_from_parts(last_failure.status, last_failure.headers, last_failure.body)
            await self._sleep(delay)
            pending = retry

    # --- writes ---------------------------------------------------------------------------------

    async def create(self, changes: RecordChanges) -> SourceRecord:
        fields = fields_from_changes(changes, creating=True)
        resp = await self.client.request("POST", self._items, json={"fields": fields}, ok=(201,))
        return self._record(json_body(resp))

    async def update(self, record_id: str, version: str | None, changes: RecordChanges) -> SourceRecord:
        """PATCH only the changed columns with `If-Match: version`; a stale version raises VersionConflict."""
        if not record_id.isdigit():
            raise RecordNotFound(self.system, f"no list item {record_id!r}", status=404)
        if changes.is_empty():
            return await self.fetch(record_id)
        headers = {"If-Match": version} if version else None
        resp = await self.client.request(
            "PATCH", f"{self._items}/{record_id}/fields",
            json=fields_from_changes(changes, creating=False), headers=headers, ok=(200,),
        )
        fields = json_body(resp)
        return record_from_item({"id": record_id, "fields": fields}, self.record_url(record_id))

    # --- change events ----------------------------------------------------------------------------

    def webhooks(self) -> GraphNotifications:
        """The handshake and clientState check of notifications for our subscriptions."""
        return GraphNotifications(self.settings.webhook_client_state)

    @property
    def subscription_resource(self) -> str:
        return f"sites/{self.settings.site_id}/lists/{self.settings.list_id}"

    async def subscribe(self, notification_url: str, expires_at: datetime) -> Subscription:
        """Create a change-notification subscription on the Customers list (`changeType` "updated" is the
        only one lists support). Graph validates `notification_url` before it answers, so the URL must
        already be served; a failed validation comes back as a 400 (SourceRejected)."""
        body = {
            "changeType": "updated",
            "notificationUrl": notification_url,
            "resource": self.subscription_resource,
            "expirationDateTime": _graph_time(expires_at),
            "clientState": self.settings.webhook_client_state.get_secret_value(),
        }
        resp = await self.client.request("POST", "/subscriptions", json=body, ok=(201, 200))
        return _subscription(json_body(resp), expires_at)

    async def renew_subscription(self, subscription_id: str, expires_at: datetime) -> Subscription:
        """Move the expiry; RecordNotFound when Graph no longer has the subscription (it expired: create anew)."""
        resp = await self.client.request(
            "PATCH", f"/subscriptions/{quote(subscription_id, safe='')}",
            json={"expirationDateTime": _graph_time(expires_at)}, idempotent=True, ok=(200,),
        )
        return _subscription(json_body(resp), expires_at)

    async def unsubscribe(self, subscription_id: str) -> None:
        try:
            await self.client.request("DELETE", f"/subscriptions/{quote(subscription_id, safe='')}",
                                      idempotent=True, ok=(204, 200))
        except RecordNotFound:
            return

    def _delta_start(self, token: str | None) -> str:
        params = {"expand": f"fields(select={','.join(CUSTOMER_COLUMNS)})"}
        if token is not None:
            params["token"] = token
        return f"{self._items}/delta?{query_string(params)}"

    async def changes(self, checkpoint: str | None, *, margin_s: float = 0.0) -> ChangeBatch:
        """Items changed since `checkpoint` (a deltaLink); None starts tracking from now (`token=latest`).

        An expired deltaLink (410 Gone) enumerates the whole list again from the `Location` Graph
        gives (or a fresh delta) and says so with `resync`: the caller decides which of those items
        to treat as changed. The same item can come more than once; the last one is kept.
        """
        try:
            events, link = await self._delta(checkpoint or self._delta_start("latest"))
            return ChangeBatch(events=events, checkpoint=link)
        except FeedExpired as gone:
            log.warning("SharePoint delta token expired; enumerating the list again")
            events, link = await self._delta(gone.location or self._delta_start(None))
            return ChangeBatch(events=events, checkpoint=link, resync=True)

    async def _delta(self, url: str) -> tuple[tuple[ChangeEvent, ...], str]:
        """Every page from `url` to the deltaLink: the events (last per item) and the deltaLink."""
        latest: dict[str, tuple[dict[str, Any], SourceRecord | None]] = {}
        next_url = url
        while True:
            resp = await self.client.request("GET", next_url, ok=(200, 410))
            if resp.status_code == 410:
                raise FeedExpired(self.system, "delta token expired (410 Gone)", location=resp.headers.get("Location"))
            body = json_body(resp)
            for item in body.get("value") or []:
                if not isinstance(item, Mapping) or text(item.get("id")) is None:
                    continue
                record = self._record(item) if item.get("fields") and item.get("deleted") is None else None
                latest.pop(str(item["id"]), None)  # keep the order of the last occurrence
                latest[str(item["id"])] = (dict(item), record)
            if body.get("@odata.nextLink"):
                next_url = body["@odata.nextLink"]
                continue
            delta_link = body.get("@odata.deltaLink")
            if not delta_link:
                raise SourceRejected(self.system, "delta response has neither nextLink nor deltaLink")
            break
        # Entries without fields (a tenant that drops the expand on later links): read them whole.
        bare = [i for i, (item, record) in latest.items() if record is None and item.get("deleted") is None]
        if bare:
            for record_id, fetched in zip(bare, await self.fetch_many(bare), strict=True):
                if fetched is None:
                    latest[record_id] = ({"id": record_id, "deleted": {"state": "deleted"}}, None)
                else:
                    latest[record_id] = (latest[record_id][0], fetched)
        events = [delta_event(self.settings.list_id, item, record) for item, record in latest.values()]
        return tuple(e for e in events if e is not None), str(delta_link)


def _graph_time(value: datetime) -> str:
    """`2024-06-18T11:00:00.0000000Z`, the form Graph documents for expirationDateTime."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _subscription(body: Any, asked: datetime) -> Subscription:
    if not isinstance(body, Mapping) or text(body.get("id")) is None:
        raise SourceRejected(SystemName.SHAREPOINT, "subscription answer has no id")
    return Subscription(id=str(body["id"]), expires_at=parse_datetime(body.get("expirationDateTime")) or asked)
