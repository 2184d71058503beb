"""Assemble the SharePoint (Microsoft Graph) simulator: token endpoint, list items, delta, subscriptions, $batch, admin."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox._credentials import SandboxCredentials
from sandbox._faults import ADMIN_PREFIX, FaultSettings
from sandbox._simulator import Simulator, build_simulator
from sandbox._store import Store
from sandbox._webhooks import RetryPolicy, WebhookSender
from sandbox.sharepoint import fidelity
from sandbox.sharepoint._auth import TokenIssuer, token_endpoint
from sandbox.sharepoint._batch import batch
from sandbox.sharepoint._changes import ChangeLog
from sandbox.sharepoint._delta import DeltaFeed
from sandbox.sharepoint._items import ItemsApi, ListConfig, update_item
from sandbox.sharepoint._pages import page_routes
from sandbox.sharepoint._lists import Site
from sandbox.sharepoint._subscriptions import Subscriptions
from sandbox.sharepoint._wire import GraphError, graph_endpoint, render_fault

_G = fidelity.GRAPH_PREFIX
_LIST = _G + "/sites/{site}/lists/{list}"
_ADMIN = f"{ADMIN_PREFIX}/sharepoint"


def _routes(api: ItemsApi, issuer: TokenIssuer, subscriptions: Subscriptions) -> list[Route]:
    auth = issuer.authenticate
    delta = DeltaFeed(api, api.changes).delta

    def graph(path: str, handler: Any, methods: list[str]) -> Route:
        return Route(path, graph_endpoint(handler, auth), methods=methods)

    async def unknown(request: Request) -> Response:
        segment = request.url.path.removeprefix(_G + "/").split("/")[0]
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")

    return [
        Route("/{tenant}/oauth2/v2.0/token", token_endpoint(issuer), methods=["POST"]),
        Route("/_layouts/15/download.aspx", api.download, methods=["GET"]),
        graph(_G + "/$batch", batch, ["POST"]),
        graph(_G + "/sites/{site}/lists", api.lists, ["GET"]),
        graph(_LIST, api.get_list, ["GET"]),
        graph(_LIST + "/items", api.list_items, ["GET"]),
        graph(_LIST + "/items", api.create_item, ["POST"]),
        # Before /items/{item}: "delta" is not an item id. SDKs call it as a function, `delta()`.
        graph(_LIST + "/items/delta", delta, ["GET"]),
        graph(_LIST + "/items/delta()", delta, ["GET"]),
        graph(_LIST + "/items/{item}", api.get_item, ["GET"]),
        graph(_LIST + "/items/{item}", api.delete_item, ["DELETE"]),
        graph(_LIST + "/items/{item}/fields", api.get_fields, ["GET"]),
        graph(_LIST + "/items/{item}/fields", api.patch_fields, ["PATCH"]),
        graph(_LIST + "/items/{item}/driveItem", api.drive_item, ["GET"]),
        graph(_G + "/subscriptions", subscriptions.create, ["POST"]),
        graph(_G + "/subscriptions", subscriptions.list_all, ["GET"]),
        graph(_G + "/subscriptions/{id}", subscriptions.get, ["GET"]),
        graph(_G + "/subscriptions/{id}", subscriptions.update, ["PATCH"]),
        graph(_G + "/subscriptions/{id}", subscriptions.delete, ["DELETE"]),
        graph(_G + "/{rest:path}", unknown, ["GET", "POST", "PATCH", "PUT", "DELETE"]),
    ]


def _admin_routes(api: ItemsApi, issuer: TokenIssuer, subscriptions: Subscriptions) -> list[Route]:
    """Test and demo knobs: token lifetime/expiry, indexed columns, out-of-band edits by a person,
    delta token and subscription expiry, how long notifications are gathered."""

    def config() -> dict[str, Any]:
        return {"token_lifetime_s": issuer.lifetime_s, "indexed_columns": sorted(api.config.indexed_columns),
                "tokens_issued": issuer.issued, "notification_delay_ms": subscriptions.notification_delay_ms,
                "change_seq": api.changes.seq}

    async def settings(request: Request) -> Response:
        if request.method == "PATCH":
            body = orjson.loads(await request.body() or b"{}")
            if "token_lifetime_s" in body:
                issuer.lifetime_s = float(body["token_lifetime_s"])
            if "indexed_columns" in body:
                api.config.indexed_columns = {"id", *body["indexed_columns"]}
            if "notification_delay_ms" in body:
                subscriptions.notification_delay_ms = max(0.0, float(body["notification_delay_ms"]))
        return JSONResponse(config())

    async def expire_delta_tokens(request: Request) -> Response:
        api.changes.expire_tokens()
        return JSONResponse(config())

    async def expire_subscriptions(request: Request) -> Response:
        return JSONResponse({"expired": subscriptions.expire_all()})

    async def expire_tokens(request: Request) -> Response:
        issuer.expire_all()
        return JSONResponse(config())

    async def edit_item(request: Request) -> Response:
        """Change an item as a person in the SharePoint UI would (version and Modified move on)."""
        site_list = api.site.find_list(request.path_params["list"])
        raw_id = request.path_params["item"]
        item = site_list.items.get(int(raw_id)) if site_list is not None and raw_id.isdigit() else None
        if site_list is None or item is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        try:
            values = api.validate_fields(site_list, orjson.loads(await request.body()), creating=False)
        except GraphError as exc:
            return JSONResponse({"error": exc.message}, status_code=400)
        updated = update_item(site_list, item, values, dict(fidelity.HUMAN_EDITOR), api.changes)
        return JSONResponse(api.site.render_fields(site_list, updated))

    return [
        Route(_ADMIN, settings, methods=["GET", "PATCH"]),
        Route(_ADMIN + "/expire-tokens", expire_tokens, methods=["POST"]),
        Route(_ADMIN + "/expire-delta-tokens", expire_delta_tokens, methods=["POST"]),
        Route(_ADMIN + "/expire-subscriptions", expire_subscriptions, methods=["POST"]),
        Route(_ADMIN + "/lists/{list}/items/{item}", edit_item, methods=["PATCH"]),
    ]


def create_sharepoint_simulator(
    store: Store,
    credentials: SandboxCredentials,
    faults: FaultSettings | None = None,
    *,
    token_lifetime_s: float = fidelity.TOKEN_LIFETIME_S,
    indexed_columns: Collection[str] = fidelity.DEFAULT_INDEXED_COLUMNS,
) -> Simulator:
    """A Graph v1.0 simulator over `store` (shapes in sandbox/STORAGE.md); `Store(None)` is an empty site."""
    site = Site(store, credentials.sharepoint_site_id)
    changes = ChangeLog(store, site.lists)
    api = ItemsApi(site, ListConfig(indexed_columns={"id", *indexed_columns}), changes)
    issuer = TokenIssuer(credentials, token_lifetime_s)
    sender = WebhookSender("sharepoint", RetryPolicy(
        attempts=fidelity.NOTIFICATION_ATTEMPTS, backoff_s=fidelity.NOTIFICATION_BACKOFF_S,
        timeout_s=fidelity.NOTIFICATION_TIMEOUT_S,
    ))
    subscriptions = Subscriptions(site, store, credentials, sender)
    changes.listeners.append(subscriptions.list_changed)
    simulator = build_simulator(
        "sharepoint", [*_routes(api, issuer, subscriptions), *page_routes(site)], store, faults, render_fault,
        extra_admin_routes=_admin_routes(api, issuer, subscriptions), webhooks=sender,
    )
    if not fidelity.TOKEN_ENDPOINT_SUBJECT_TO_FAULTS:
        simulator.app.exempt_prefixes = (*simulator.app.exempt_prefixes, f"/{credentials.sharepoint_tenant}/")
    return simulator
