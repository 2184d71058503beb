"""QuickBooks Online Accounting API v3 connector (source-apis.md section 3).

Reads go through the query endpoint (POST, `application/text`, so long `IN` lists
never hit URL limits); writes are sparse updates guarded by `SyncToken` and carry a
`requestid` so a retried write is applied once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, date, datetime, timedelta
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from connectors._changes import ChangeBatch, utc_text
from connectors._create_ids import current_create_request_id
from connectors._errors import RecordNotFound, VersionConflict
from connectors._http import SourceClient, Sleep, build_http_client, json_body
from connectors._quickbooks_auth import QuickBooksAuth
from connectors._quickbooks_events import QuickBooksWebhooks, cdc_events
from connectors._quickbooks_mapping import customer_body, customer_to_record, invoice_to_model, translate_error
from connectors._record import Invoice, RecordChanges, SourceRecord, SystemName
from connectors._settings import QuickBooksSettings, UpstreamLimits
from connectors._values import parse_datetime

__all__ = ["QuickBooksConnector"]

log = logging.getLogger(__name__)

#: QuickBooks returns at most 1000 rows a page.
PAGE_SIZE = 1000
#: Ids per `Id in (...)` query; one page holds them all.
FETCH_CHUNK = 1000
#: Customers per `CustomerRef in (...)` invoice query (each chunk is paged on its own).
INVOICE_CUSTOMER_CHUNK = 200
#: Candidates returned per search criterion.
SEARCH_LIMIT = 100
#: CDC refuses `changedSince` older than 30 days; we stay an hour inside that.
CDC_MAX_LOOKBACK = timedelta(days=30) - timedelta(hours=1)
#: Objects of one entity a CDC response holds at most (source-apis.md 3.5, verify).
CDC_CAP = 1000


def quote(value: str) -> str:
    """A query string literal: QuickBooks escapes `'` (and we escape `\\`) with a backslash."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _qbo_ids(ids: Iterable[str]) -> list[str]:
    """Distinct ids that can exist in QuickBooks (positive integers as text)."""
    return [i for i in dict.fromkeys(str(x).strip() for x in ids) if i.isdigit() and int(i) > 0]


class QuickBooksConnector:
    """Customers and invoices of one QuickBooks company (realm)."""

    system = SystemName.QUICKBOOKS
    conditional_writes = True
    unique_attributes: frozenset[str] = frozenset({"name"})  # DisplayName, error 6240

    def __init__(
        self,
        settings: QuickBooksSettings,
        limits: UpstreamLimits,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.auth = QuickBooksAuth(settings, limits, sleep=sleep)
        self.client = SourceClient(
            self.system,
            build_http_client(settings.base_url, limits, transport),
            limits,
            self.auth,
            translate_error,
            sleep=sleep,
        )
        self._prefix = f"/v3/company/{settings.realm_id}"

    # --- plumbing ------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        content: str | None = None,
        content_type: str | None = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        resp = await self.client.request(
            method,
            f"{self._prefix}{path}",
            params={"minorversion": str(self.settings.minorversion), **(params or {})},
            json=json,
            content=content,
            headers=headers,
            idempotent=idempotent,
            ok=(200,),
        )
        body = json_body(resp)
        return body if isinstance(body, dict) else {}

    async def _query(self, sql: str) -> dict[str, Any]:
        """The `QueryResponse` of one query (a POST, but a read: safe to retry)."""
        body = await self._call("POST", "/query", content=sql, content_type="application/text", idempotent=True)
        response = body.get("QueryResponse")
        return response if isinstance(response, dict) else {}

    def _record(self, raw: Mapping[str, Any]) -> SourceRecord:
        return customer_to_record(raw, self.record_url(str(raw["Id"])))

    # --- Connector protocol ----------------------------------------------------------------

    def record_url(self, record_id: str) -> str:
        return f"{self.settings.app_url}/customerdetail?nameId={record_id}"

    async def fetch(self, record_id: str) -> SourceRecord:
        if not _qbo_ids([record_id]):
            raise RecordNotFound(self.system, f"no customer {record_id!r}", code="610")
        body = await self._call("GET", f"/customer/{record_id}")
        return self._record(body["Customer"])

    async def fetch_many(self, record_ids: Sequence[str]) -> list[SourceRecord | None]:
        found: dict[str, SourceRecord] = {}
        for chunk in _chunks(_qbo_ids(record_ids), FETCH_CHUNK):
            ids = ", ".join(quote(i) for i in chunk)
            page = await self._query(
                f"select * from Customer where Active in (true, false) and Id in ({ids}) MAXRESULTS {FETCH_CHUNK}"
            )
            for raw in page.get("Customer") or []:
                found[str(raw["Id"])] = self._record(raw)
        return [found.get(str(i).strip()) for i in record_ids]

    async def iterate(self) -> AsyncIterator[SourceRecord]:
        start = 1
        while True:
            page = await self._query(
                "select * from Customer where Active in (true, false) "
                f"ORDERBY Id STARTPOSITION {start} MAXRESULTS {PAGE_SIZE}"
            )
            rows = page.get("Customer") or []
            for raw in rows:
                yield self._record(raw)
            if len(rows) < PAGE_SIZE:
                return
            start += len(rows)

    async def search(
        self, *, name: str | None = None, email: str | None = None, phone: str | None = None
    ) -> list[SourceRecord]:
        """Union of name (DisplayName/CompanyName contains) and exact email matches.

        Phone is ignored: QuickBooks cannot filter on PrimaryPhone, and scanning the
        whole customer list per search would not scale, so phone-only searches return [].
        """
        where = "select * from Customer where Active in (true, false) and"
        queries: list[str] = []
        if name and name.strip():
            pattern = quote(f"%{name.strip()}%")
            queries += [f"{where} DisplayName LIKE {pattern} MAXRESULTS {SEARCH_LIMIT}",
                        f"{where} CompanyName LIKE {pattern} MAXRESULTS {SEARCH_LIMIT}"]
        if email and email.strip():
            queries.append(f"{where} PrimaryEmailAddr = {quote(email.strip())} MAXRESULTS {SEARCH_LIMIT}")
        pages = await asyncio.gather(*(self._query(q) for q in queries))
        found: dict[str, SourceRecord] = {}
        for page in pages:
            for raw in page.get("Customer") or []:
                found.setdefault(str(raw["Id"]), self._record(raw))
        return sorted(found.values(), key=lambda r: int(r.id))

    async def create(self, changes: RecordChanges) -> SourceRecord:
        """Create a customer. The `requestid` QuickBooks deduplicates on is the one a caller set with
        `create_request_id` (a re-run workflow that may repeat a create whose answer was lost),
        else a new one; the retries inside this call always reuse the id of this call.
        """
        requestid = current_create_request_id() or uuid.uuid4().hex
        body = await self._call(
            "POST", "/customer", params={"requestid": requestid},
            json=customer_body(changes, creating=True), idempotent=True,
        )
        return self._record(body["Customer"])

    async def update(self, record_id: str, version: str | None, changes: RecordChanges) -> SourceRecord:
        """Sparse update guarded by SyncToken; without `version` the current one is read first
        (last write wins, as QuickBooks insists on a token)."""
        if version is None:
            version = (await self.fetch(record_id)).version
        if changes.is_empty():
            current = await self.fetch(record_id)
            if current.version != version:
                raise VersionConflict(self.system, "Stale Object Error (5010)", code="5010")
            return current
        payload = {"Id": record_id, "SyncToken": version, "sparse": True, **customer_body(changes, creating=False)}
        body = await self._call(
            "POST", "/customer", params={"requestid": uuid.uuid4().hex}, json=payload, idempotent=True
        )
        return self._record(body["Customer"])

    async def invoices_for(self, customer_ids: Sequence[str]) -> dict[str, list[Invoice]]:
        """Invoices per customer id (every requested id is a key), newest first, chunked queries."""
        result: dict[str, list[Invoice]] = {str(i): [] for i in customer_ids}
        for chunk in _chunks(_qbo_ids(customer_ids), INVOICE_CUSTOMER_CHUNK):
            refs = ", ".join(quote(i) for i in chunk)
            start = 1
            while True:
                page = await self._query(
                    f"select * from Invoice where CustomerRef in ({refs}) "
                    f"ORDERBY Id STARTPOSITION {start} MAXRESULTS {PAGE_SIZE}"
                )
                rows = page.get("Invoice") or []
                for raw in rows:
                    invoice = invoice_to_model(raw, f"{self.settings.app_url}/invoice?txnId={raw['Id']}")
                    result.setdefault(invoice.customer_id, []).append(invoice)
                if len(rows) < PAGE_SIZE:
                    break
                start += len(rows)
        for invoices in result.values():
            invoices.sort(key=lambda inv: (inv.date or date.min, int(inv.id)), reverse=True)
        return result

    # --- change events -------------------------------------------------------------------------

    def webhooks(self) -> QuickBooksWebhooks:
        """Verifies and reads this company's webhook deliveries (the endpoint is set in Intuit's portal)."""
        return QuickBooksWebhooks(self.settings.webhook_verifier, self.settings.realm_id)

    async def changes(self, checkpoint: str | None, *, margin_s: float = 30.0) -> ChangeBatch:
        """Customers changed since `checkpoint` (CDC); None starts tracking from now, with no events.

        The next checkpoint is the response's `time` (QuickBooks' clock, not ours) minus
        `margin_s`, so a change committed just before that time is seen next round too
        (events repeat across rounds; their dedup keys say so). A response at the per-entity
        cap continues from its newest change instead, so nothing past the cap is skipped.
        """
        since = parse_datetime(checkpoint)
        now = datetime.now(UTC)
        if since is not None and since < now - CDC_MAX_LOOKBACK:
            log.warning("quickbooks CDC checkpoint older than 30 days; changes before %s are not replayed "
                        "(reconcile reports what they left behind)", utc_text(now - CDC_MAX_LOOKBACK))
            since = now - CDC_MAX_LOOKBACK
        body = await self._call("GET", "/cdc", params={
            "entities": "Customer", "changedSince": (since or now).astimezone(UTC).isoformat(timespec="seconds"),
        })
        server_time = parse_datetime(body.get("time")) or now
        if since is None:
            return ChangeBatch(events=(), checkpoint=server_time.astimezone(UTC).isoformat())
        events = tuple(cdc_events(self.settings.realm_id, body, self.record_url))
        if len(events) >= CDC_CAP:
            newest = max((e.changed_at for e in events if e.changed_at is not None), default=since)
            resume = max(since, newest)
        else:
            resume = max(since, server_time - timedelta(seconds=margin_s))
        return ChangeBatch(events=events, checkpoint=resume.astimezone(UTC).isoformat())

    async def aclose(self) -> None:
        await self.client.aclose()
