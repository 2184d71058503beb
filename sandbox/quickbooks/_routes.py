"""HTTP routes of the QuickBooks simulator: `/v3/company/{realm}/...`, the token endpoint, admin knobs."""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox._faults import SlidingWindowLimiter
from sandbox._pages import not_found_page, record_page
from sandbox.quickbooks import fidelity
from sandbox.quickbooks._books import Books, invalid, render_customer, required
from sandbox.quickbooks._cdc import change_data_capture
from sandbox.quickbooks._oauth import TokenAuthority, token_endpoint
from sandbox.quickbooks._wire import (
    Clock,
    QboFault,
    auth_fault,
    fault_response,
    intuit_tid,
    qbo_response,
    realm_fault,
    throttle_fault,
)

Handler = Callable[[Request], Awaitable[Response]]
_API = "/v3/company/{realm}"


@dataclass
class RuntimeConfig:
    """Simulator switches that tests flip at runtime (`/_admin/config`)."""

    #: Enforce Intuit's 40 batch requests per minute inside the batch route.
    batch_rate_limit: bool = False


@dataclass
class QboContext:
    books: Books
    tokens: TokenAuthority
    realm_id: str
    clock: Clock
    config: RuntimeConfig
    rng: random.Random
    batch_limiter: SlidingWindowLimiter = field(
        default_factory=lambda: SlidingWindowLimiter(fidelity.BATCH_REQUESTS_PER_MINUTE, 60.0)
    )
    #: (route, requestid) -> (status, body bytes) of the first successful write.
    replies: OrderedDict[tuple[str, str], tuple[int, bytes]] = field(default_factory=OrderedDict)


def build_routes(ctx: QboContext) -> tuple[list[BaseRoute], list[BaseRoute]]:
    """(API and OAuth routes, admin routes)."""

    def api(handler: Callable[[Request], Awaitable[Response]], *, idempotent_writes: bool = False) -> Handler:
        async def endpoint(request: Request) -> Response:
            authorization = request.headers.get("authorization", "")
            token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
            if not token or not ctx.tokens.access_token_valid(token):
                return fault_response(auth_fault(), ctx.clock,
                                      {"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'})
            if request.path_params["realm"] != ctx.realm_id:
                return fault_response(realm_fault(), ctx.clock)
            try:
                _check_minorversion(request)
                key = _replay_key(request) if idempotent_writes else None
                if key is not None and key in ctx.replies:
                    status, body = ctx.replies[key]
                    return Response(body, status_code=status, media_type="application/json",
                                    headers={"intuit_tid": intuit_tid()})
                response = await handler(request)
                if key is not None and response.status_code == 200:
                    ctx.replies[key] = (response.status_code, bytes(response.body))
                    while len(ctx.replies) > fidelity.REQUESTID_CACHE_SIZE:
                        ctx.replies.popitem(last=False)
                return response
            except QboFault as fault:
                return fault_response(fault, ctx.clock)

        return endpoint

    async def json_body(request: Request) -> Any:
        raw = await request.body()
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise invalid("", "Request body is not valid JSON") from None

    async def read_customer(request: Request) -> Response:
        return qbo_response({"Customer": render_customer(ctx.books.customer(request.path_params["id"]))}, ctx.clock)

    async def write_customer(request: Request) -> Response:
        body = await json_body(request)
        if request.query_params.get("operation", "").lower() == "delete":
            raise QboFault(*fidelity.UNSUPPORTED_OPERATION_FAULT, "Operation Delete is not supported.")
        return qbo_response({"Customer": ctx.books.save_customer(_unwrap(body, "Customer"))}, ctx.clock)

    async def read_invoice(request: Request) -> Response:
        return qbo_response({"Invoice": ctx.books.invoice(request.path_params["id"])}, ctx.clock)

    async def write_invoice(request: Request) -> Response:
        body = _unwrap(await json_body(request), "Invoice")
        if request.query_params.get("operation", "").lower() == "delete":
            return qbo_response({"Invoice": ctx.books.delete_invoice(body)}, ctx.clock)
        return qbo_response({"Invoice": ctx.books.save_invoice(body)}, ctx.clock)

    async def query(request: Request) -> Response:
        if request.method == "GET":
            text = request.query_params.get("query", "")
        else:
            text = (await request.body()).decode("utf-8", errors="replace")
        if not text.strip():
            raise required("query", "Required parameter query is missing in the request")
        return qbo_response({"QueryResponse": ctx.books.query(text)}, ctx.clock)

    async def cdc(request: Request) -> Response:
        params = request.query_params
        body = change_data_capture(ctx.books, params.get("entities"), params.get("changedSince"), ctx.clock())
        return qbo_response(body, ctx.clock)

    async def batch(request: Request) -> Response:
        if ctx.config.batch_rate_limit:
            wait = ctx.batch_limiter.take()
            if wait is not None:
                headers = {"Retry-After": str(max(1, round(wait)))} if fidelity.SEND_RETRY_AFTER else {}
                return fault_response(throttle_fault(), ctx.clock, headers)
        body = await json_body(request)
        items = body.get("BatchItemRequest") if isinstance(body, Mapping) else None
        if not isinstance(items, list) or not items:
            raise required("BatchItemRequest")
        if len(items) > fidelity.MAX_BATCH_ITEMS:
            code, message, element = fidelity.BATCH_TOO_LARGE_FAULT
            raise QboFault(code, message,
                           f"Batch can contain at most {fidelity.MAX_BATCH_ITEMS} items; got {len(items)}",
                           element=element)
        answers = [_batch_item(ctx, item) for item in items]
        if fidelity.SHUFFLE_BATCH_RESPONSES:
            ctx.rng.shuffle(answers)
        return qbo_response({"BatchItemResponse": answers}, ctx.clock)

    async def token(request: Request) -> Response:
        return await token_endpoint(request, ctx.tokens)

    async def app_page(request: Request) -> Response:
        """Stand-in for the QuickBooks web UI, so `record_url` links open something in the demo."""
        try:
            if request.path_params["page"] == "customerdetail":
                record: Mapping[str, Any] = render_customer(ctx.books.customer(request.query_params.get("nameId")))
            elif request.path_params["page"] == "invoice":
                record = ctx.books.invoice(request.query_params.get("txnId"))
            else:
                return not_found_page("QuickBooks")
        except QboFault:
            return not_found_page("QuickBooks")
        title = str(record.get("DisplayName") or record.get("DocNumber") or record.get("Id"))
        return record_page("QuickBooks", title, record)

    routes: list[BaseRoute] = [
        Route("/oauth2/v1/tokens/bearer", token, methods=["POST"]),
        Route(f"{_API}/customer/{{id}}", api(read_customer), methods=["GET"]),
        Route(f"{_API}/customer", api(write_customer, idempotent_writes=True), methods=["POST"]),
        Route(f"{_API}/invoice/{{id}}", api(read_invoice), methods=["GET"]),
        Route(f"{_API}/invoice", api(write_invoice, idempotent_writes=True), methods=["POST"]),
        Route(f"{_API}/query", api(query), methods=["GET", "POST"]),
        Route(f"{_API}/cdc", api(cdc), methods=["GET"]),
        Route(f"{_API}/batch", api(batch, idempotent_writes=True), methods=["POST"]),
        Route("/app/{page}", app_page, methods=["GET"]),
    ]
    return routes, _admin_routes(ctx)


def _admin_routes(ctx: QboContext) -> list[BaseRoute]:
    async def expire_tokens(request: Request) -> Response:
        return JSONResponse({"expired": ctx.tokens.expire_access_tokens()})

    async def mint_code(request: Request) -> Response:
        return JSONResponse({"code": ctx.tokens.mint_code(), "realmId": ctx.realm_id})

    async def oauth_settings(request: Request) -> Response:
        settings = ctx.tokens.settings
        if request.method == "PATCH":
            body = await request.json()
            for name in ("access_token_ttl_s", "refresh_token_ttl_s", "refresh_grace_s"):
                if name in body:
                    setattr(settings, name, float(body[name]))
        return JSONResponse(vars(settings))

    async def runtime_config(request: Request) -> Response:
        if request.method == "PATCH":
            body = await request.json()
            if "batch_rate_limit" in body:
                ctx.config.batch_rate_limit = bool(body["batch_rate_limit"])
                ctx.batch_limiter = SlidingWindowLimiter(fidelity.BATCH_REQUESTS_PER_MINUTE, 60.0)
        return JSONResponse(vars(ctx.config))

    async def edit_customer(request: Request) -> Response:
        """A person editing the customer in the QuickBooks UI: no SyncToken needed."""
        try:
            current = ctx.books.customer(request.path_params["id"])
            fields = await request.json()
            saved = ctx.books.save_customer(
                {**fields, "Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True}
            )
        except QboFault as fault:
            return fault_response(fault, ctx.clock)
        return JSONResponse({"Customer": saved})

    async def receive_payment(request: Request) -> Response:
        """A person recording a payment against an invoice in the UI."""
        try:
            body = await request.json()
            amount = Decimal(str(body.get("amount")))
            saved = ctx.books.record_payment(request.path_params["id"], amount)
        except InvalidOperation:
            return JSONResponse({"error": "amount must be a number"}, status_code=400)
        except QboFault as fault:
            return fault_response(fault, ctx.clock)
        return JSONResponse({"Invoice": saved})

    return [
        Route("/_admin/oauth/expire", expire_tokens, methods=["POST"]),
        Route("/_admin/oauth/code", mint_code, methods=["POST"]),
        Route("/_admin/oauth", oauth_settings, methods=["GET", "PATCH"]),
        Route("/_admin/config", runtime_config, methods=["GET", "PATCH"]),
        Route("/_admin/customers/{id}", edit_customer, methods=["PATCH"]),
        Route("/_admin/invoices/{id}/payment", receive_payment, methods=["POST"]),
    ]


def _batch_item(ctx: QboContext, item: Any) -> dict[str, Any]:
    bid = item.get("bId") if isinstance(item, Mapping) else None
    answer: dict[str, Any] = {"bId": bid}
    try:
        if bid in (None, ""):
            raise required("bId")
        if "Query" in item:
            answer["QueryResponse"] = ctx.books.query(str(item["Query"]))
            return answer
        entity = next((name for name in ("Customer", "Invoice") if name in item), None)
        if entity is None:
            raise invalid("BatchItemRequest", "Each item needs Query, Customer or Invoice")
        operation = str(item.get("operation") or "").lower()
        body = item[entity]
        if not isinstance(body, Mapping):
            raise invalid(entity, f"{entity} must be an object")
        if operation == "create":
            body = {k: v for k, v in body.items() if k not in ("Id", "SyncToken")}
        elif operation == "update":
            if body.get("Id") in (None, ""):
                raise required("Id")
        elif operation == "delete":
            if entity == "Customer":
                raise QboFault(*fidelity.UNSUPPORTED_OPERATION_FAULT, "Operation Delete is not supported.")
            answer[entity] = ctx.books.delete_invoice(body)
            return answer
        else:
            raise required("operation")
        if entity == "Customer":
            answer[entity] = ctx.books.save_customer(body)
        else:
            answer[entity] = ctx.books.save_invoice(body)
    except QboFault as fault:
        answer = {"bId": bid, "Fault": fault.body()}
    return answer


def _unwrap(body: Any, entity: str) -> Any:
    """Accept the object itself or wrapped as {"Customer": {...}} (some SDKs wrap)."""
    if isinstance(body, Mapping) and set(body) == {entity} and isinstance(body[entity], Mapping):
        return body[entity]
    return body


def _replay_key(request: Request) -> tuple[str, str] | None:
    request_id = request.query_params.get("requestid")
    return (request.url.path, request_id) if request_id else None


def _check_minorversion(request: Request) -> None:
    floor = fidelity.REJECT_MINORVERSION_BELOW
    raw = request.query_params.get("minorversion")
    if floor is None or raw is None:
        return
    try:
        ok = int(raw) >= floor
    except ValueError:
        ok = False
    if not ok:
        code, message, element = fidelity.REJECTED_MINORVERSION_FAULT
        raise QboFault(code, message, f"minorversion {raw} is no longer supported; use {floor} or later",
                       element=element)
