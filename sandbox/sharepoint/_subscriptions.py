"""Graph change notifications for lists: `/v1.0/subscriptions` and the POSTs they cause (source-apis.md 1.7).

A subscription is only created after its receiver passed the validation handshake
(Graph POSTs `?validationToken=...` and wants the token echoed as text/plain within
10 s). From then on every change to the list sends the receiver a notification that
only says "this list changed" (no item id, no data): the receiver pulls `/items/delta`.
Changes close together share one POST per receiver URL. Subscriptions are kept in the
store (collection `subscriptions`) so they outlive a restart, and are removed once
their `expirationDateTime` has passed, as Graph removes them.
"""

from __future__ import annotations

import functools
import ipaddress
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response

from sandbox._credentials import SandboxCredentials
from sandbox._store import Store
from sandbox._webhooks import Batcher, Delivery, WebhookSender
from sandbox.sharepoint import fidelity
from sandbox.sharepoint._items import _body_json, graph_root
from sandbox.sharepoint._lists import Site, SiteList
from sandbox.sharepoint._wire import GraphError, graph_json

_VALIDATION_FAILED = (
    "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request."
)


def _invalid(message: str) -> GraphError:
    return GraphError(400, "InvalidRequest", message)


def _not_found() -> GraphError:
    return GraphError(404, fidelity.SUBSCRIPTION_NOT_FOUND_CODE, "The object was not found.")


def _graph_time(moment: datetime) -> str:
    """Subscription timestamps as Graph writes them: UTC, seven fractional digits, `Z`."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _parse_time(value: Any, name: str) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"'{name}' is required.")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _invalid(f"'{name}' is not a valid date and time: '{value}'.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _local_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Subscriptions:
    """The subscription API of the site, and the notifier called on every list change."""

    def __init__(self, site: Site, store: Store, credentials: SandboxCredentials, sender: WebhookSender) -> None:
        self.site = site
        self.rows = store.collection("subscriptions")
        self.sender = sender
        self.application_id = credentials.sharepoint_client_id
        # Graph names the tenant by GUID; the sandbox tenant has a domain name only, so derive a stable one.
        self.tenant_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, credentials.sharepoint_tenant))
        #: How long changes are gathered into one POST per receiver (runtime-settable under /_admin/sharepoint).
        self.notification_delay_ms: float = fidelity.NOTIFICATION_DELAY_MS
        self._batchers: dict[str, Batcher[str]] = {}

    # --- stored subscriptions --------------------------------------------------------------

    def live(self) -> list[dict[str, Any]]:
        """Subscriptions that have not expired; expired ones are removed on the way."""
        now = datetime.now(timezone.utc)
        alive = []
        for row in list(self.rows.all()):
            if _parse_time(row["expirationDateTime"], "expirationDateTime") <= now:
                self.rows.delete(int(row["key"]))
            else:
                alive.append(row)
        return alive

    def _find(self, subscription_id: str) -> dict[str, Any]:
        wanted = subscription_id.strip().lower()
        for row in self.live():
            if row["id"] == wanted:
                return row
        raise _not_found()

    def expire_all(self) -> int:
        """Every subscription's expiration is now (they are then removed as expired ones are)."""
        past = _graph_time(datetime.now(timezone.utc) - timedelta(seconds=1))
        rows = list(self.rows.all())
        self.rows.put_many((int(row["key"]), {**row, "expirationDateTime": past}) for row in rows)
        return len(rows)

    def _json(self, request: Request, row: dict[str, Any], *, entity: bool = True) -> dict[str, Any]:
        body = {
            "id": row["id"], "resource": row["resource"], "applicationId": row["applicationId"],
            "changeType": row["changeType"], "clientState": row.get("clientState"),
            "notificationUrl": row["notificationUrl"], "notificationQueryOptions": None,
            "lifecycleNotificationUrl": None, "expirationDateTime": row["expirationDateTime"],
            "creatorId": row["creatorId"], "includeResourceData": None, "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None, "encryptionCertificateId": None, "notificationUrlAppId": None,
        }
        if entity:
            return {"@odata.context": f"{graph_root(request)}/$metadata#subscriptions/$entity", **body}
        return body

    # --- validation --------------------------------------------------------------------------

    def _resource_list(self, resource: Any) -> tuple[str, SiteList]:
        if not isinstance(resource, str) or not resource.strip():
            raise _invalid("'resource' is required.")
        normalized = resource.strip().strip("/")
        parts = normalized.split("/")
        if len(parts) != 4 or parts[0].lower() != "sites" or parts[2].lower() != "lists":
            raise _invalid(f"Resource '{resource}' is not supported for change notifications.")
        if parts[1].lower() != self.site.id.lower():
            raise GraphError(404, "itemNotFound", "Requested site could not be found")
        site_list = self.site.find_list(parts[3])
        if site_list is None:
            raise GraphError(404, "itemNotFound", "List not found")
        return normalized, site_list

    @staticmethod
    def _change_type(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _invalid("'changeType' is required.")
        kinds = [part.strip() for part in value.split(",") if part.strip()]
        unsupported = [kind for kind in kinds if kind not in fidelity.LIST_CHANGE_TYPES]
        if unsupported:
            raise _invalid(f"The specified change type '{unsupported[0]}' is not supported for this resource.")
        return ",".join(kinds)

    @staticmethod
    def _notification_url(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _invalid("'notificationUrl' is required.")
        url = value.strip()
        parts = urlsplit(url)
        if parts.scheme == "http" and fidelity.ALLOW_HTTP_ON_LOOPBACK and _local_host(parts.hostname or ""):
            return url
        if parts.scheme != "https" or not parts.hostname:
            raise _invalid("Invalid notification url. The url must be https.")
        return url

    @staticmethod
    def _expiration(value: Any) -> datetime:
        expires = _parse_time(value, "expirationDateTime")
        now = datetime.now(timezone.utc)
        if expires <= now:
            raise _invalid("Subscription expiration must be in the future.")
        # A little slack: clients compute "now + max" a moment before the request arrives.
        if expires > now + timedelta(minutes=fidelity.MAX_SUBSCRIPTION_MINUTES, seconds=60):
            raise _invalid(
                f"Subscription expiration can only be {fidelity.MAX_SUBSCRIPTION_MINUTES} minutes in the future."
            )
        return expires

    @staticmethod
    def _client_state(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > fidelity.MAX_CLIENT_STATE_LENGTH:
            raise _invalid(f"'clientState' must be a string of at most {fidelity.MAX_CLIENT_STATE_LENGTH} characters.")
        return value

    async def _handshake(self, url: str) -> None:
        """Graph's reachability check: the receiver must echo the token, as text/plain, in time."""
        token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
        try:
            response = await self.sender.client().post(
                url, params={"validationToken": token}, content=b"",
                headers={"Content-Type": "text/plain; charset=utf-8"}, timeout=fidelity.VALIDATION_TIMEOUT_S,
            )
        except httpx.TimeoutException:
            raise _invalid("Subscription validation request timeout.") from None
        except httpx.HTTPError:
            raise _invalid(_VALIDATION_FAILED) from None
        text_plain = response.headers.get("content-type", "").lower().startswith("text/plain")
        if response.status_code != 200 or response.text != token or (
            fidelity.VALIDATION_NEEDS_TEXT_PLAIN and not text_plain
        ):
            raise _invalid(_VALIDATION_FAILED)

    # --- endpoints -------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        body = _body_json(await request.body())
        if not isinstance(body, dict):
            raise _invalid("The body must be a subscription object.")
        change_type = self._change_type(body.get("changeType"))
        url = self._notification_url(body.get("notificationUrl"))
        resource, site_list = self._resource_list(body.get("resource"))
        expires = self._expiration(body.get("expirationDateTime"))
        client_state = self._client_state(body.get("clientState"))
        await self._handshake(url)
        key = self.rows.allocate_id()
        row = {
            "key": key, "id": str(uuid.uuid4()), "resource": resource, "listId": site_list.id,
            "changeType": change_type, "notificationUrl": url, "clientState": client_state,
            "expirationDateTime": _graph_time(expires), "applicationId": self.application_id,
            "creatorId": fidelity.SUBSCRIPTION_CREATOR_ID,
        }
        self.rows.put(key, row)
        return graph_json(self._json(request, row), 201)

    async def list_all(self, request: Request) -> Response:
        return graph_json({"@odata.context": f"{graph_root(request)}/$metadata#subscriptions",
                           "value": [self._json(request, row, entity=False) for row in self.live()]})

    async def get(self, request: Request) -> Response:
        return graph_json(self._json(request, self._find(request.path_params["id"])))

    async def update(self, request: Request) -> Response:
        row = self._find(request.path_params["id"])
        body = _body_json(await request.body())
        if not isinstance(body, dict):
            raise _invalid("The body must be a subscription object.")
        updated = dict(row)
        if "expirationDateTime" in body:
            updated["expirationDateTime"] = _graph_time(self._expiration(body["expirationDateTime"]))
        if "notificationUrl" in body:
            url = self._notification_url(body["notificationUrl"])
            if url != row["notificationUrl"]:
                await self._handshake(url)
            updated["notificationUrl"] = url
        self.rows.put(int(row["key"]), updated)
        return graph_json(self._json(request, updated))

    async def delete(self, request: Request) -> Response:
        row = self._find(request.path_params["id"])
        self.rows.delete(int(row["key"]))
        return Response(status_code=204)

    # --- notifications -----------------------------------------------------------------------

    def list_changed(self, site_list: SiteList) -> None:
        """ChangeLog listener: queue a notification for every live subscription to this list."""
        for row in self.live():
            if row["listId"] == site_list.id:
                url = row["notificationUrl"]
                batcher = self._batchers.get(url)
                if batcher is None:
                    batcher = self._batchers[url] = Batcher(functools.partial(self._flush, url))
                batcher.add(row["id"], self.notification_delay_ms / 1000)

    def _flush(self, url: str, subscription_ids: list[str]) -> None:
        value = []
        live = {row["id"]: row for row in self.live()}
        for subscription_id in dict.fromkeys(subscription_ids):
            row = live.get(subscription_id)
            if row is None or row["notificationUrl"] != url:
                continue  # deleted, expired or moved since the change
            expires = _parse_time(row["expirationDateTime"], "expirationDateTime")
            notification: dict[str, Any] = {
                "subscriptionId": row["id"],
                "subscriptionExpirationDateTime": expires.astimezone(timezone.utc).isoformat(),
                "changeType": "updated",
                "resource": row["resource"],
                "tenantId": self.tenant_id,
                "resourceData": {},
            }
            if row.get("clientState") is not None:
                notification["clientState"] = row["clientState"]
            value.append(notification)
        if value:
            self.sender.send(Delivery(
                url=url, body=orjson.dumps({"value": value}),
                headers={"Content-Type": "application/json; charset=utf-8"},
                event=f"list changed ({len(value)} subscription{'s' if len(value) > 1 else ''})",
            ))
