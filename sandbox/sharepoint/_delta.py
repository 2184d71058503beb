"""`GET .../lists/{list-id}/items/delta`: Graph's change feed of list items (source-apis.md 1.6).

Without a token the whole list is enumerated in pages (`@odata.nextLink`), the last page
carrying an `@odata.deltaLink`; calling that link later returns what changed since (the
latest state of each item, deleted items as `{"id", "deleted": {"state": "deleted"}}`).
`?token=latest` starts tracking from now. A token the simulator cannot honour any more
(expired, from another list, from before `/_admin/sharepoint/expire-delta-tokens`, or
not a token at all) gets 410 Gone with `resyncChangesApplyDifferences` and a `Location`
to start over from.

Tokens are opaque to clients; inside they carry the change number they stand for
(`sandbox.sharepoint._changes`), so they stay valid across restarts on the same data dir.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from sandbox.sharepoint import fidelity
from sandbox.sharepoint._changes import ChangeLog
from sandbox.sharepoint._items import ItemsApi, _expand, _param, _select_list, graph_root, top_param
from sandbox.sharepoint._lists import SiteList
from sandbox.sharepoint._wire import GraphError, graph_json

_RESYNC_MESSAGE = (
    "Resync required. Replace any local items with the server's version (including deletes) if you're sure "
    "that the service was up to date with your local changes when you last sync'd. Upload any local changes "
    "that the server doesn't know about."
)
#: Item properties always kept when `$select` narrows a delta item.
_ALWAYS = ("@odata.etag", "id")


class _Unknown(ValueError):
    """A token that is not (or no longer) valid for this list."""


@dataclass(frozen=True)
class _Position:
    """Where a paged delta round stands: changes after `since` (None = everything), up to `anchor`."""

    since: int | None
    anchor: int
    after_id: int


def _encode(*parts: object) -> str:
    return base64.urlsafe_b64encode("|".join(map(str, parts)).encode()).decode().rstrip("=")


def _decode(token: str, kind: str, count: int) -> list[str]:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _Unknown(token) from exc
    parts = text.split("|")
    if len(parts) != count or parts[0] != kind:
        raise _Unknown(token)
    return parts[1:]


class DeltaFeed:
    """The delta handler over the items API (for list resolution and rendering) and the change log."""

    def __init__(self, api: ItemsApi, changes: ChangeLog) -> None:
        self.api = api
        self.changes = changes

    # --- tokens ----------------------------------------------------------------------------

    @staticmethod
    def _list_key(site_list: SiteList) -> str:
        return site_list.id.replace("-", "")[:12].lower()

    def delta_token(self, site_list: SiteList, seq: int) -> str:
        return _encode("d", self.changes.epoch, self._list_key(site_list), seq, int(time.time()))

    def _page_token(self, site_list: SiteList, position: _Position) -> str:
        since = -1 if position.since is None else position.since
        return _encode("p", self.changes.epoch, self._list_key(site_list), since, position.anchor, position.after_id)

    def _check(self, site_list: SiteList, epoch: str, list_key: str, seq: int) -> None:
        if epoch != self.changes.epoch or list_key != self._list_key(site_list) or not 0 <= seq <= self.changes.seq:
            raise _Unknown("stale")

    def _read_delta_token(self, site_list: SiteList, token: str) -> int:
        epoch, list_key, seq, issued = _decode(token, "d", 5)
        try:
            seq_n, issued_s = int(seq), int(issued)
        except ValueError as exc:
            raise _Unknown(token) from exc
        self._check(site_list, epoch, list_key, seq_n)
        if time.time() - issued_s > fidelity.DELTA_TOKEN_LIFETIME_S:
            raise _Unknown("expired")
        return seq_n

    def _read_page_token(self, site_list: SiteList, token: str) -> _Position:
        epoch, list_key, since, anchor, after = _decode(token, "p", 6)
        try:
            since_n, anchor_n, after_n = int(since), int(anchor), int(after)
        except ValueError as exc:
            raise _Unknown(token) from exc
        self._check(site_list, epoch, list_key, anchor_n)
        return _Position(None if since_n < 0 else since_n, anchor_n, after_n)

    # --- links -----------------------------------------------------------------------------

    def _link(self, request: Request, site_list: SiteList, token: tuple[str, str] | None) -> str:
        """This delta URL again with the same query options, and `token` in place of any earlier one."""
        kept = [(k, v) for k, v in request.query_params.multi_items() if k.lstrip("$") not in ("token", "skiptoken")]
        params = [token, *kept] if token is not None else kept
        list_key = quote(request.path_params["list"], safe="")
        url = f"{graph_root(request)}/sites/{self.api.site.id}/lists/{list_key}/items/delta"
        return f"{url}?{urlencode(params, quote_via=quote, safe='$(),/=:')}" if params else url

    def _resync(self, request: Request, site_list: SiteList) -> GraphError:
        return GraphError(410, "resyncChangesApplyDifferences", _RESYNC_MESSAGE,
                          headers={"Location": self._link(request, site_list, None)})

    # --- the endpoint ----------------------------------------------------------------------

    async def delta(self, request: Request) -> Response:
        site_list = self.api.resolve_list(request)
        top = top_param(request)
        token = request.query_params.get("token")
        skiptoken = _param(request, "skiptoken")
        try:
            if skiptoken:
                position = self._read_page_token(site_list, skiptoken)
            elif token == "latest":
                link = self._link(request, site_list, ("token", self.delta_token(site_list, self.changes.seq)))
                return self._respond(request, site_list, [], {"@odata.deltaLink": link})
            elif token:
                position = _Position(self._read_delta_token(site_list, token), self.changes.seq, 0)
            else:
                position = _Position(None, self.changes.seq, 0)
        except _Unknown:
            raise self._resync(request, site_list) from None
        rows: Iterable[tuple[int, dict[str, Any] | None]]
        if position.since is None:
            rows = ((int(item["id"]), item) for item in site_list.items.all())
        else:
            rows = self.changes.changed_since(site_list, position.since)
        page: list[tuple[int, dict[str, Any] | None]] = []
        more = False
        for item_id, item in rows:
            if item_id <= position.after_id:
                continue
            if len(page) == top:
                more = True
                break
            page.append((item_id, item))
        if more:
            after = _Position(position.since, position.anchor, page[-1][0])
            links = {"@odata.nextLink": self._link(request, site_list, ("$skiptoken", self._page_token(site_list, after)))}
        else:
            # Changes made while the pages were read come again next round: the feed may repeat, never miss.
            links = {"@odata.deltaLink": self._link(request, site_list,
                                                    ("token", self.delta_token(site_list, position.anchor)))}
        return self._respond(request, site_list, page, links)

    def _respond(self, request: Request, site_list: SiteList, page: list[tuple[int, dict[str, Any] | None]],
                 links: dict[str, str]) -> Response:
        root = graph_root(request)
        expand, select_fields = _expand(request)
        select = _select_list(_param(request, "select"))
        value = []
        for item_id, item in page:
            if item is None:
                value.append({"id": str(item_id), "deleted": {"state": "deleted"}})
                continue
            wire = self.api.site.render_item(site_list, item, graph_root=root, expand_fields=expand,
                                             select=select_fields)
            for name in fidelity.DELTA_OMITTED_PROPERTIES:
                wire.pop(name, None)
            if select is not None:
                wire = {k: v for k, v in wire.items()
                        if k in select or k in _ALWAYS or (expand and k.startswith("fields"))}
            value.append(wire)
        return graph_json({"@odata.context": f"{root}/$metadata#Collection(listItem)", "value": value, **links})
