"""Teamwork webhooks: the v1 registration API and the signed JSON (payload version 2) deliveries (source-apis.md 2.5).

One registration = one event + one URL (+ an optional token). Every matching change
made through either API generation is POSTed to the URL with `X-Projects-Event` and,
when the registration has a token, `X-Projects-Signature` = lower-case hex
HMAC-SHA256(token, raw body). Registrations are kept in the store (collection
`webhooks`), so they outlive a restart; one whose deliveries keep being dropped is
deactivated, as Teamwork does.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox._json import JSONResponse
from sandbox._store import Store
from sandbox._webhooks import Delivery, WebhookSender, hex_signature
from sandbox.teamwork import fidelity
from sandbox.teamwork._http import Generation, endpoint, json_body, not_found, path_id, validation_error
from sandbox.teamwork._wire import v3_company, webhook_project

_JSON_TYPES = frozenset({"application/json", "json"})


class TeamworkWebhooks:
    """Registrations of the site and the deliveries each change causes."""

    def __init__(self, store: Store, sender: WebhookSender) -> None:
        self.rows = store.collection("webhooks")
        self.sender = sender

    # --- deliveries ------------------------------------------------------------------------

    def record_changed(self, event: str, record: dict[str, Any]) -> None:
        """TeamworkRecords listener: deliver `event` to every active registration for it."""
        object_key, _, _ = event.lower().partition(".")
        payload = v3_company(record) if object_key == "company" else webhook_project(record)
        body = orjson.dumps({"eventCreator": dict(fidelity.WEBHOOK_EVENT_CREATOR), object_key: payload})
        for row in self.rows.all():
            if row["event"] != event or not row.get("active", True):
                continue
            headers = {"Content-Type": "application/json", "User-Agent": fidelity.WEBHOOK_USER_AGENT,
                       "X-Projects-Event": event}
            if row.get("token"):
                headers["X-Projects-Signature"] = hex_signature(row["token"], body)
            self.sender.send(Delivery(
                url=row["url"], body=body, headers=headers, event=f"{event} {record.get('id')}",
                on_outcome=functools.partial(self._outcome, int(row["id"])),
            ))

    def _outcome(self, webhook_id: int, delivered: bool) -> None:
        row = self.rows.get(webhook_id)
        if row is None:
            return
        if delivered:
            if row.get("droppedEvents"):
                self.rows.put(webhook_id, {**row, "droppedEvents": 0})
            return
        dropped = int(row.get("droppedEvents", 0)) + 1
        active = row.get("active", True) and dropped < fidelity.WEBHOOK_DEACTIVATE_AFTER_DROPPED
        self.rows.put(webhook_id, {**row, "droppedEvents": dropped, "active": active})

    # --- registration API ------------------------------------------------------------------

    @staticmethod
    def _values(body: Any, *, partial: bool) -> dict[str, Any]:
        """Stored values from a `{"webhook": {...}}` body; refused like other v1 validation errors."""
        hook = body.get("webhook") if isinstance(body, dict) else None
        if not isinstance(hook, dict):
            raise validation_error('the body must be a JSON object {"webhook": {...}}', "webhook")
        values: dict[str, Any] = {}
        if "event" in hook or not partial:
            event = str(hook.get("event") or "").strip().upper()
            if event not in fidelity.WEBHOOK_EVENTS:
                raise validation_error(f"Unknown webhook event '{hook.get('event')}'", "event")
            values["event"] = event
        if "url" in hook or not partial:
            url = str(hook.get("url") or "").strip()
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise validation_error("A valid webhook url is required", "url")
            values["url"] = url
        if "token" in hook or not partial:
            token = hook.get("token")
            if token is not None and not isinstance(token, str):
                raise validation_error("'token' must be a string", "token")
            values["token"] = token or ""
        if "contentType" in hook or not partial:
            content_type = str(hook.get("contentType") or "application/json").strip().lower()
            if content_type not in _JSON_TYPES:
                raise validation_error("The sandbox delivers webhooks as JSON only (contentType application/json)",
                                       "contentType")
            values["contentType"] = "application/json"
        if "version" in hook or not partial:
            version = str(hook.get("version") if hook.get("version") is not None else 2).strip()
            if version not in fidelity.WEBHOOK_PAYLOAD_VERSIONS:
                raise validation_error("The sandbox delivers payload version 2 only", "version")
            values["version"] = int(version)
        return values

    @staticmethod
    def _view(row: dict[str, Any]) -> dict[str, Any]:
        """A registration as v1 lists it (string ids; the token itself is never echoed)."""
        return {
            "id": str(row["id"]), "event": row["event"], "url": row["url"], "contentType": row["contentType"],
            "version": row["version"], "status": "active" if row.get("active", True) else "inactive",
            "hasToken": bool(row.get("token")), "projectId": "0",
        }

    def routes(self, api_key: str) -> list[Route]:
        api = endpoint(Generation.V1, api_key)
        rows = self.rows

        def find(request: Request) -> dict[str, Any]:
            row = rows.get(path_id(request, "webhook_id", "Webhook"))
            if row is None:
                raise not_found("Webhook")
            return row

        @api
        async def list_webhooks(request: Request) -> Response:
            return JSONResponse({"STATUS": "OK", "webhooks": [self._view(row) for row in rows.all()]})

        @api
        async def get_webhook(request: Request) -> Response:
            return JSONResponse({"STATUS": "OK", "webhook": self._view(find(request))})

        @api
        async def create_webhook(request: Request) -> Response:
            values = self._values(await json_body(request), partial=False)
            webhook_id = rows.allocate_id()
            rows.put(webhook_id, {"id": webhook_id, **values, "active": True, "droppedEvents": 0})
            return JSONResponse({"STATUS": "OK", "id": str(webhook_id)}, status_code=201)

        @api
        async def update_webhook(request: Request) -> Response:
            row = find(request)
            values = self._values(await json_body(request), partial=True)
            # Saving a registration again is how a deactivated one is switched back on.
            rows.put(int(row["id"]), {**row, **values, "active": True, "droppedEvents": 0})
            return JSONResponse({"STATUS": "OK"})

        @api
        async def delete_webhook(request: Request) -> Response:
            row = find(request)
            rows.delete(int(row["id"]))
            return JSONResponse({"STATUS": "OK"})

        return [
            Route("/webhooks.json", list_webhooks, methods=["GET"]),
            Route("/webhooks.json", create_webhook, methods=["POST"]),
            Route("/webhooks/{webhook_id}.json", get_webhook, methods=["GET"]),
            Route("/webhooks/{webhook_id}.json", update_webhook, methods=["PUT"]),
            Route("/webhooks/{webhook_id}.json", delete_webhook, methods=["DELETE"]),
        ]
