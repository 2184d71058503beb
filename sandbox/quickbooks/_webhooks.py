"""QuickBooks webhooks: the "developer portal" settings and the signed, aggregated deliveries (source-apis.md 3.6).

The real endpoint and entities are set per app in Intuit's developer portal; here that
is `PUT /_admin/webhooks` `{"url", "format": "legacy"|"cloudevents", "delay_ms", "entities"}`
(GET shows it, DELETE clears it; kept in the store's meta so it outlives a restart).
Changes are gathered for `delay_ms` after the first one and sent as one POST, signed
with `intuit-signature` = base64 HMAC-SHA256(verifier token, raw body). Like Intuit's,
the payload names entities only; the receiver fetches them or runs CDC.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel, Field, ValidationError, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox._store import Store
from sandbox._webhooks import Batcher, Delivery, WebhookSender, base64_signature
from sandbox.quickbooks import fidelity
from sandbox.quickbooks._books import EntityChange

_META = "webhooks"
#: CloudEvents `type` verb per legacy operation.
_VERBS = {"Create": "created", "Update": "updated", "Delete": "deleted", "Merge": "merged", "Void": "voided",
          "Emailed": "emailed"}


class WebhookConfig(BaseModel):
    """What the developer portal holds for the app: where to send, in which format, for which entities."""

    url: str
    format: Literal["legacy", "cloudevents"] = "legacy"
    delay_ms: int = Field(fidelity.WEBHOOK_DEFAULT_DELAY_MS, ge=0, le=600_000,
                          description="How long changes are gathered into one POST.")
    entities: list[str] = Field(default_factory=lambda: ["Customer", "Invoice"])

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an http(s) URL")
        return value.strip()


def _utc(meta_time: str) -> datetime:
    return datetime.fromisoformat(meta_time).astimezone(timezone.utc)


class QuickBooksWebhooks:
    """The portal settings and the notifier the books report their changes to."""

    def __init__(self, store: Store, sender: WebhookSender, realm_id: str, verifier: str) -> None:
        self._store = store
        self.sender = sender
        self.realm_id = realm_id
        self._verifier = verifier
        saved = store.get_meta(_META)
        self.config: WebhookConfig | None = WebhookConfig.model_validate_json(saved) if saved else None
        self._batcher: Batcher[EntityChange] = Batcher(self._flush)
        # CloudEvents `source`: opaque and stable per company, like Intuit's.
        digest = base64.b64encode(hashlib.sha256(realm_id.encode()).digest()).decode()
        self._source = f"intuit.{digest}"

    def configure(self, config: WebhookConfig | None) -> None:
        self.config = config
        self._store.set_meta(_META, config.model_dump_json() if config is not None else "")

    # --- notifications ----------------------------------------------------------------------

    def entity_changed(self, change: EntityChange) -> None:
        """Books listener: gather the change into the next POST (if the portal has an endpoint for it)."""
        config = self.config
        if config is None or change.entity not in config.entities:
            return
        self._batcher.add(change, config.delay_ms / 1000)

    def _flush(self, changes: list[EntityChange]) -> None:
        config = self.config
        if config is None:
            return  # cleared while the changes were being gathered
        payload = self._cloudevents(changes) if config.format == "cloudevents" else self._legacy(changes)
        body = orjson.dumps(payload)
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "intuit-signature": base64_signature(self._verifier, body)}
        summary = ", ".join(f"{c.entity} {c.id} {c.operation}" for c in changes[:5])
        more = f" (+{len(changes) - 5})" if len(changes) > 5 else ""
        self.sender.send(Delivery(url=config.url, body=body, headers=headers, event=summary + more))

    def _legacy(self, changes: list[EntityChange]) -> dict[str, Any]:
        entities = [
            {"name": c.entity, "id": c.id, "operation": c.operation,
             "lastUpdated": _utc(c.last_updated).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"}
            for c in changes
        ]
        return {"eventNotifications": [{"realmId": self.realm_id, "dataChangeEvent": {"entities": entities}}]}

    def _cloudevents(self, changes: list[EntityChange]) -> list[dict[str, Any]]:
        return [
            {"specversion": "1.0", "id": f"{uuid.uuid4()}-{c.entity}-{c.id}", "source": self._source,
             "type": f"qbo.{c.entity.lower()}.{_VERBS.get(c.operation, c.operation.lower())}.v1",
             "datacontenttype": "application/json", "time": _utc(c.last_updated).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "intuitentityid": c.id, "intuitaccountid": self.realm_id, "data": {}}
            for c in changes
        ]

    # --- the portal ----------------------------------------------------------------------------

    def admin_routes(self) -> list[BaseRoute]:
        async def portal(request: Request) -> Response:
            if request.method == "PUT":
                try:
                    self.configure(WebhookConfig.model_validate_json(await request.body()))
                except ValidationError as exc:
                    return JSONResponse({"error": "invalid webhook settings", "detail": str(exc)}, status_code=400)
            elif request.method == "DELETE":
                self.configure(None)
            if self.config is None:
                return JSONResponse({"url": None})
            return JSONResponse(self.config.model_dump())

        return [Route("/_admin/webhooks", portal, methods=["GET", "PUT", "DELETE"])]
