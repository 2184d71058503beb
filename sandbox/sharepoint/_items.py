"""List and list-item endpoints under `/v1.0/sites/{site-id}/lists/{list-id}` (source-apis.md 1.3-1.5, 1.11)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response

from sandbox._store import KeyFunc
from sandbox.sharepoint import fidelity
from sandbox.sharepoint._changes import ChangeLog
from sandbox.sharepoint._filter import FilterError, ParsedFilter, equality_keys, literal_keys, parse_filter
from sandbox.sharepoint._lists import Site, SiteList
from sandbox.sharepoint._wire import (
    GraphError,
    graph_json,
    invalid_request,
    item_etag,
    item_not_found,
    parse_etag,
    utc_now,
)

_EXPAND_FIELDS = re.compile(r"(?:^|,)\s*fields\s*(?:\(\s*\$?select\s*=\s*([^)]*)\))?", re.IGNORECASE)
_APP_EDITOR = {"id": fidelity.APP_EDITOR_LOOKUP_ID, "displayName": fidelity.APP_EDITOR_NAME}


@dataclass
class ListConfig:
    """Runtime knobs of the lists (changed by tests through the admin endpoint)."""

    indexed_columns: set[str] = field(default_factory=lambda: set(fidelity.DEFAULT_INDEXED_COLUMNS))


def graph_root(request: Request) -> str:
    return str(request.base_url).rstrip("/") + fidelity.GRAPH_PREFIX


def _param(request: Request, name: str) -> str | None:
    """OData system query options are accepted with and without the `$` prefix."""
    value = request.query_params.get(f"${name}")
    return value if value is not None else request.query_params.get(name)


def _select_list(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    return [part.strip() for part in raw.split(",") if part.strip()]


def _expand(request: Request) -> tuple[bool, list[str] | None]:
    """Whether `fields` is expanded, and its `select` list if any."""
    raw = _param(request, "expand")
    if not raw:
        return False, None
    match = _EXPAND_FIELDS.search(raw)
    if match is None:
        return False, None
    return True, _select_list(match.group(1))


def top_param(request: Request) -> int:
    """The page size asked for with `$top` (default and maximum from fidelity)."""
    top_raw = _param(request, "top")
    if top_raw is None:
        return fidelity.DEFAULT_TOP
    if not top_raw.isdigit() or int(top_raw) < 1:
        raise invalid_request(f"Invalid value '{top_raw}' for $top.")
    top = int(top_raw)
    if top > fidelity.MAX_TOP:
        if not fidelity.CLAMP_TOP:
            raise invalid_request(f"The $top value exceeds the maximum of {fidelity.MAX_TOP}.")
        top = fidelity.MAX_TOP
    return top


def _skiptoken(last_id: int) -> str:
    # The real token is base64 of SharePoint's paging cookie; clients must treat it as opaque.
    return base64.b64encode(f"Paged=TRUE&p_ID={last_id}".encode()).decode().rstrip("=")


def _after_id(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(dict(part.split("=", 1) for part in text.split("&"))["p_ID"])
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError) as exc:
        raise invalid_request("The $skiptoken is not valid.") from exc


def _body_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise GraphError(400, "BadRequest", "Unable to read JSON request payload.") from exc


class ItemsApi:
    """The handlers; each resolves the site and list from the path first."""

    def __init__(self, site: Site, config: ListConfig, changes: ChangeLog) -> None:
        self.site = site
        self.config = config
        self.changes = changes
        self._download_tokens: dict[str, tuple[str, float]] = {}

    # --- resolution -------------------------------------------------------------------------

    def resolve_list(self, request: Request) -> SiteList:
        if request.path_params["site"].lower() != self.site.id.lower():
            raise item_not_found("Requested site could not be found")
        site_list = self.site.find_list(request.path_params["list"])
        if site_list is None:
            raise item_not_found("List not found")
        return site_list

    def resolve_item(self, request: Request) -> tuple[SiteList, dict[str, Any]]:
        site_list = self.resolve_list(request)
        raw_id = request.path_params["item"]
        if not raw_id.isdigit():
            raise invalid_request(f"Invalid request: '{raw_id}' is not a valid list item id.")
        item = site_list.items.get(int(raw_id))
        if item is None:
            raise item_not_found()
        return site_list, item

    # --- lists ------------------------------------------------------------------------------

    def _list_json(self, site_list: SiteList) -> dict[str, Any]:
        definition = site_list.definition
        path = "Shared%20Documents" if definition.is_library else f"Lists/{quote(definition.title)}"
        return {
            "@odata.etag": f'"{site_list.id},1"',
            "id": site_list.id,
            "name": "Shared Documents" if definition.is_library else definition.title,
            "displayName": definition.title,
            "webUrl": f"{self.site.web_url}/{path}",
            "list": {"contentTypesEnabled": False, "hidden": False, "template": definition.template},
            "parentReference": {"siteId": self.site.id},
        }

    async def lists(self, request: Request) -> Response:
        if request.path_params["site"].lower() != self.site.id.lower():
            raise item_not_found("Requested site could not be found")
        value = [self._list_json(sl) for sl in self.site.lists]
        if (raw := _param(request, "filter")) is not None:
            match = re.fullmatch(r"\s*displayName\s+eq\s+'((?:[^']|'')*)'\s*", raw)
            if match is None:
                raise invalid_request("Invalid filter clause")
            wanted = match.group(1).replace("''", "'").casefold()
            value = [v for v in value if v["displayName"].casefold() == wanted]
        return graph_json({"@odata.context": f"{graph_root(request)}/$metadata#sites('{self.site.id}')/lists",
                           "value": value})

    async def get_list(self, request: Request) -> Response:
        site_list = self.resolve_list(request)
        return graph_json({"@odata.context": f"{graph_root(request)}/$metadata#sites('{self.site.id}')/lists/$entity",
                           **self._list_json(site_list)})

    # --- reads ------------------------------------------------------------------------------

    def _filter(self, request: Request, site_list: SiteList) -> ParsedFilter | None:
        raw = _param(request, "filter")
        if raw is None:
            return None
        try:
            parsed = parse_filter(raw, site_list.definition.known_column)
        except FilterError as exc:
            raise invalid_request(str(exc)) from exc
        prefer = request.headers.get("prefer", "").lower()
        if fidelity.PREFER_NON_INDEXED.lower() not in prefer:
            for column in sorted(parsed.columns):
                if column not in self.config.indexed_columns:
                    raise invalid_request(
                        f"Field '{column}' cannot be referenced in filter or orderby as it is not indexed. "
                        f"Provide the 'Prefer: {fidelity.PREFER_NON_INDEXED}' header to allow this, but be "
                        "warned that such queries may fail on large lists."
                    )
        return parsed

    def _matching(self, site_list: SiteList, parsed: ParsedFilter | None, after: int) -> Iterator[dict[str, Any]]:
        """Items past the skiptoken's id that pass the filter, in ascending id order."""
        for item in self._candidates(site_list, parsed):
            if item["id"] <= after:
                continue
            if parsed is None or parsed.predicate(self.site.field_view(site_list, item)):
                yield item

    def _candidates(self, site_list: SiteList, parsed: ParsedFilter | None) -> Iterable[dict[str, Any]]:
        """Every item, or when the filter implies equalities only the items an index finds for them.

        Like an indexed column on a real list, a lookup costs what it finds, not the list's size.
        """
        if parsed is None or parsed.equalities is None:
            return site_list.items.all()
        found: set[int] = set()
        for column, literal in parsed.equalities:
            keys = self._column_keys(site_list, column)
            found |= site_list.items.lookup(f"fields/{column}", keys, literal_keys(literal))
        return site_list.items.records(found)

    def _column_keys(self, site_list: SiteList, column: str) -> KeyFunc:
        """Index keys of one column of an item, computed from its fields as the filter reads them."""
        site = self.site
        return lambda item: equality_keys(site.field_view(site_list, item).get(column))

    async def list_items(self, request: Request) -> Response:
        site_list = self.resolve_list(request)
        expand, select = _expand(request)
        parsed = self._filter(request, site_list)
        top = top_param(request)
        after = _after_id(_param(request, "skiptoken"))
        page: list[dict[str, Any]] = []
        more = False
        for item in self._matching(site_list, parsed, after):
            if len(page) == top:
                more = True
                break
            page.append(item)
        root = graph_root(request)
        body: dict[str, Any] = {
            "@odata.context": f"{root}/$metadata#sites('{self.site.id}')/lists('{site_list.id}')/items",
            "value": [
                self.site.render_item(site_list, item, graph_root=root, expand_fields=expand, select=select)
                for item in page
            ],
        }
        if more:
            params = [(k, v) for k, v in request.query_params.multi_items() if k.lstrip("$") != "skiptoken"]
            params.append(("$skiptoken", _skiptoken(page[-1]["id"])))
            query = urlencode(params, quote_via=quote, safe="$(),/'=:")
            list_key = quote(request.path_params["list"], safe="")
            body["@odata.nextLink"] = f"{root}/sites/{self.site.id}/lists/{list_key}/items?{query}"
        return graph_json(body)

    def _item_response(self, request: Request, site_list: SiteList, item: dict[str, Any], status: int = 200,
                       *, expand: bool, select: list[str] | None) -> Response:
        root = graph_root(request)
        body = {
            "@odata.context": f"{root}/$metadata#sites('{self.site.id}')/lists('{site_list.id}')/items/$entity",
            **self.site.render_item(site_list, item, graph_root=root, expand_fields=expand, select=select),
        }
        return graph_json(body, status, self._etag_header(item))

    @staticmethod
    def _etag_header(item: dict[str, Any]) -> dict[str, str]:
        return {"ETag": item_etag(item["guid"], item["version"])} if fidelity.SEND_ETAG_HEADER else {}

    async def get_item(self, request: Request) -> Response:
        site_list, item = self.resolve_item(request)
        expand, select = _expand(request)
        return self._item_response(request, site_list, item, expand=expand, select=select)

    def _fields_response(self, request: Request, site_list: SiteList, item: dict[str, Any],
                         select: list[str] | None = None) -> Response:
        body = {
            "@odata.context": f"{graph_root(request)}/$metadata#sites('{self.site.id}')/lists('{site_list.id}')"
                              f"/items('{item['id']}')/fields/$entity",
            **self.site.render_fields(site_list, item, select),
        }
        return graph_json(body, 200, self._etag_header(item))

    async def get_fields(self, request: Request) -> Response:
        site_list, item = self.resolve_item(request)
        return self._fields_response(request, site_list, item, _select_list(_param(request, "select")))

    # --- writes -----------------------------------------------------------------------------

    def validate_fields(self, site_list: SiteList, values: Any, *, creating: bool) -> dict[str, str | None]:
        if not isinstance(values, dict):
            raise invalid_request("Invalid request: 'fields' must be an object.")
        definition = site_list.definition
        clean: dict[str, str | None] = {}
        for name, value in values.items():
            if name.startswith("@odata") or name.endswith("@odata.type"):
                continue
            if name not in definition.columns:
                if definition.known_column(name):
                    raise invalid_request(f"Field '{name}' is read-only")
                raise invalid_request(f"Field '{name}' is not recognized")
            if isinstance(value, bool) or isinstance(value, dict | list):
                raise invalid_request(f"Invalid value for field '{name}'.")
            text = None if value is None else str(value)
            allowed = definition.choices.get(name)
            if text and allowed is not None and text not in allowed:
                raise invalid_request(
                    f"Invalid choice '{text}' for field '{name}'; allowed values: {', '.join(sorted(allowed))}."
                )
            if text and name.endswith("LookupId") and not text.isdigit():
                raise invalid_request(f"Invalid lookup value '{text}' for field '{name}'.")
            clean[name] = text
        title_missing = not (clean.get("Title") if creating else clean.get("Title", "x"))
        if fidelity.TITLE_REQUIRED and not definition.is_library and title_missing:
            raise invalid_request("Field 'Title' is required.")
        return clean

    @staticmethod
    def _check_if_match(request: Request, item: dict[str, Any]) -> None:
        header = request.headers.get("if-match")
        if header is None or header.strip() == "*":
            return
        parsed = parse_etag(header)
        if parsed != (item["guid"].lower(), item["version"]):
            raise GraphError(412, fidelity.PRECONDITION_FAILED_CODE, fidelity.PRECONDITION_FAILED_MESSAGE)

    async def create_item(self, request: Request) -> Response:
        site_list = self.resolve_list(request)
        body = _body_json(await request.body())
        if site_list.definition.is_library:
            raise invalid_request("Files and folders should only be added to a DocumentLibrary via the OneDrive API")
        if not isinstance(body, dict) or "fields" not in body:
            raise invalid_request("Invalid request: the body must contain 'fields'.")
        values = self.validate_fields(site_list, body["fields"], creating=True)
        item = create_item(site_list, values, _APP_EDITOR, self.changes)
        return self._item_response(request, site_list, item, 201, expand=True, select=None)

    async def patch_fields(self, request: Request) -> Response:
        site_list, item = self.resolve_item(request)
        values = self.validate_fields(site_list, _body_json(await request.body()), creating=False)
        self._check_if_match(request, item)
        item = update_item(site_list, item, values, _APP_EDITOR, self.changes)
        return self._fields_response(request, site_list, item)

    async def delete_item(self, request: Request) -> Response:
        site_list, item = self.resolve_item(request)
        self._check_if_match(request, item)
        self.changes.delete(site_list, item["id"])
        return Response(status_code=204)

    # --- files ------------------------------------------------------------------------------

    async def drive_item(self, request: Request) -> Response:
        site_list, item = self.resolve_item(request)
        if not site_list.definition.is_library:
            raise item_not_found("Item is not a file: the list is not a document library.")
        guid = item["guid"].upper()
        tempauth = secrets.token_urlsafe(24)
        self._download_tokens[item["guid"].lower()] = (tempauth, time.time() + 3600)
        root = graph_root(request)
        base = str(request.base_url).rstrip("/")
        name = item.get("fields", {}).get("FileLeafRef", f"{item['id']}")
        digest = base64.b64encode(hashlib.sha1(item["guid"].encode()).digest()[:20]).decode()
        body = {
            "@odata.context": f"{root}/$metadata#sites('{self.site.id}')/lists('{site_list.id}')"
                              f"/items('{item['id']}')/driveItem/$entity",
            "@microsoft.graph.downloadUrl": f"{base}/_layouts/15/download.aspx?UniqueId={item['guid']}"
                                            f"&Translate=false&tempauth={tempauth}&ApiVersion=2.0",
            "createdDateTime": item["created"],
            "eTag": f'"{{{guid}}},{item["version"]}"',
            "id": "01" + base64.b32encode(bytes.fromhex(item["guid"].replace("-", ""))).decode().rstrip("=")[:32],
            "lastModifiedDateTime": item["modified"],
            "name": name,
            "webUrl": self.site.item_web_url(site_list, item),
            "cTag": f'"c:{{{guid}}},{item["version"]}"',
            "size": int(item.get("size", 0)),
            "createdBy": self.site.render_item(site_list, item, graph_root=root, expand_fields=False)["createdBy"],
            "lastModifiedBy": self.site.render_item(site_list, item, graph_root=root,
                                                    expand_fields=False)["lastModifiedBy"],
            "parentReference": {"driveType": "documentLibrary", "id": "01ROOT", "path": "/drive/root:",
                                "siteId": self.site.id},
            "file": {"mimeType": item.get("mimeType") or "application/octet-stream",
                     "hashes": {"quickXorHash": digest}},
            "fileSystemInfo": {"createdDateTime": item["created"], "lastModifiedDateTime": item["modified"]},
        }
        return graph_json(body)

    async def download(self, request: Request) -> Response:
        """The short-lived `@microsoft.graph.downloadUrl`: no bearer, the `tempauth` is the credential."""
        unique = (request.query_params.get("UniqueId") or "").lower()
        token, expires = self._download_tokens.get(unique, ("", 0.0))
        if not token or request.query_params.get("tempauth") != token or time.time() > expires:
            return Response("Access denied", status_code=401, media_type="text/plain")
        library = self.site.list_by_collection("documents")
        item = next(iter(library.items.find("guid", _guid_key, [unique])), None)
        if item is None:
            return Response("Not found", status_code=404, media_type="text/plain")
        size = int(item.get("size", 0))
        seed = hashlib.sha256(item["guid"].encode()).digest()
        content = (seed * (size // len(seed) + 1))[:size]
        return Response(content, media_type=item.get("mimeType") or "application/octet-stream")


def _guid_key(item: dict[str, Any]) -> tuple[Hashable]:
    """Download URLs name an item by its GUID (any case)."""
    guid = item.get("guid")
    return (guid.lower() if isinstance(guid, str) else None,)


def create_item(
    site_list: SiteList, values: dict[str, str | None], editor: dict[str, Any], changes: ChangeLog
) -> dict[str, Any]:
    now = utc_now()
    item_id = site_list.items.allocate_id()
    item = {
        "id": item_id,
        "guid": str(uuid.uuid4()),
        "version": 1,
        "created": now,
        "modified": now,
        "createdBy": dict(editor),
        "modifiedBy": dict(editor),
        "fields": {k: v for k, v in values.items() if v not in (None, "")},
    }
    return changes.save(site_list, item)


def update_item(
    site_list: SiteList,
    item: dict[str, Any],
    values: dict[str, str | None],
    editor: dict[str, Any],
    changes: ChangeLog,
) -> dict[str, Any]:
    """A write: columns set or cleared (null/""), version N+1, Modified and editor updated."""
    fields = dict(item.get("fields", {}))
    for name, value in values.items():
        if value in (None, ""):
            fields.pop(name, None)
        else:
            fields[name] = value
    updated = {**item, "fields": fields, "version": int(item["version"]) + 1, "modified": utc_now(),
               "modifiedBy": dict(editor)}
    return changes.save(site_list, updated)

