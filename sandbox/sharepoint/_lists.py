"""The two lists of the sandbox site and how a stored item becomes a Graph listItem.

Stored shape (sandbox/STORAGE.md): `{"id", "guid", "version", "created", "modified",
"createdBy", "modifiedBy", "fields": {own columns only}}` (+ `size`, `mimeType` for files).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection as AbstractCollection
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sandbox._store import Collection, Store
from sandbox.sharepoint import fidelity
from sandbox.sharepoint._wire import fields_etag, item_etag, web_root

#: Keys SharePoint adds to `fields` on every item (clients must ignore them).
_SYSTEM_KEYS: dict[str, Any] = {
    "Edit": "",
    "ItemChildCount": "0",
    "FolderChildCount": "0",
    "_ComplianceFlags": "",
    "_ComplianceTag": "",
    "_ComplianceTagWrittenTime": "",
    "_ComplianceTagUserId": "",
}

#: Columns derived from the stored item's top-level keys (read-only on the wire).
_DERIVED = frozenset(
    {"id", "ContentType", "Created", "Modified", "AuthorLookupId", "EditorLookupId", "_UIVersionString", "Attachments"}
)


@dataclass(frozen=True)
class ListDef:
    """One list of the site: its identity, its own (writable) columns and choice constraints."""

    collection: str
    title: str
    meta_key: str
    template: str
    content_type: str
    content_type_id: str
    columns: frozenset[str]
    choices: dict[str, frozenset[str]]
    #: Lookup columns: `XLookupId` on the wire; `X` only when selected.
    lookups: frozenset[str] = frozenset()
    is_library: bool = False

    def known_column(self, name: str) -> bool:
        return name in self.columns or name in _DERIVED or name in _SYSTEM_KEYS or name in self.extra_read_columns

    @property
    def extra_read_columns(self) -> frozenset[str]:
        if self.is_library:
            return frozenset({"LinkFilename", "LinkFilenameNoMenu", "DocIcon", "FileSizeDisplay"})
        return frozenset({"LinkTitle", "LinkTitleNoMenu"})


CUSTOMERS = ListDef(
    collection="customers",
    title="Customers",
    meta_key="sharepoint.customers_list_id",
    template="genericList",
    content_type="Item",
    content_type_id="0x0100C2B0E8A94B7E4F3DA2B0F5C5D9A1E201",
    columns=frozenset(
        {"Title", "StreetAddress1", "StreetAddress2", "City", "State", "Zip", "EmailPrimary", "Phone", "CustomerStatus"}
    ),
    choices={"CustomerStatus": fidelity.CUSTOMER_STATUS_CHOICES},
)

DOCUMENTS = ListDef(
    collection="documents",
    title="Documents",
    meta_key="sharepoint.documents_list_id",
    template="documentLibrary",
    content_type="Document",
    content_type_id="0x0101003E8F4B1C2A5D4E6F8091A2B3C4D5E6F7",
    columns=frozenset({"FileLeafRef", "Title", "DocumentType", "CustomerLookupId"}),
    choices={"DocumentType": fidelity.DOCUMENT_TYPE_CHOICES},
    lookups=frozenset({"Customer"}),
    is_library=True,
)

LISTS = (CUSTOMERS, DOCUMENTS)


@dataclass
class SiteList:
    """A list bound to its store collection and its GUID (stable per data dir)."""

    definition: ListDef
    id: str
    items: Collection


class Site:
    """The one sandbox site: its id, host, and lists resolved by GUID or title."""

    def __init__(self, store: Store, site_id: str) -> None:
        self.id = site_id
        self.host = site_id.split(",")[0]
        self.lists: list[SiteList] = []
        for definition in LISTS:
            list_id = store.get_meta(definition.meta_key)
            if list_id is None:
                list_id = str(uuid.uuid4())
                store.set_meta(definition.meta_key, list_id)
            self.lists.append(SiteList(definition, list_id, store.collection(definition.collection)))

    @property
    def web_url(self) -> str:
        root = web_root.get() or f"https://{self.host}"
        return f"{root}{fidelity.SITE_WEB_PATH}"

    def find_list(self, key: str) -> SiteList | None:
        wanted = key.strip("{}").lower()
        for site_list in self.lists:
            if site_list.id.lower() == wanted:
                return site_list
            if fidelity.ACCEPT_LIST_TITLE and site_list.definition.title.lower() == wanted:
                return site_list
        return None

    def list_by_collection(self, collection: str) -> SiteList:
        return next(sl for sl in self.lists if sl.definition.collection == collection)

    # --- rendering ---------------------------------------------------------------------------

    def item_web_url(self, site_list: SiteList, item: dict[str, Any]) -> str:
        if site_list.definition.is_library:
            name = item.get("fields", {}).get("FileLeafRef") or f"{item['id']}_.000"
            return f"{self.web_url}/Shared%20Documents/{quote(name)}"
        return f"{self.web_url}/Lists/{quote(site_list.definition.title)}/{item['id']}_.000"

    def render_fields(
        self, site_list: SiteList, item: dict[str, Any], select: AbstractCollection[str] | None = None
    ) -> dict[str, Any]:
        """The fieldValueSet of an item; `select` limits it to those columns (+ etag and id)."""
        definition = site_list.definition
        own = {k: v for k, v in item.get("fields", {}).items() if not (fidelity.OMIT_EMPTY_COLUMNS and v in (None, ""))}
        full: dict[str, Any] = {"@odata.etag": fields_etag(item["guid"], item["version"]), "id": str(item["id"])}
        full.update(own)
        full["ContentType"] = definition.content_type
        full["Created"] = item["created"]
        full["Modified"] = item["modified"]
        full["AuthorLookupId"] = str(item.get("createdBy", {}).get("id", ""))
        full["EditorLookupId"] = str(item.get("modifiedBy", {}).get("id", ""))
        full["_UIVersionString"] = f"{item['version']}.0"
        full["Attachments"] = False
        if definition.is_library:
            name = own.get("FileLeafRef", "")
            full["LinkFilename"] = name
            full["LinkFilenameNoMenu"] = name
            full["DocIcon"] = name.rsplit(".", 1)[-1] if "." in name else ""
            full["FileSizeDisplay"] = str(item.get("size", 0))
        elif "Title" in own:
            full["LinkTitle"] = own["Title"]
            full["LinkTitleNoMenu"] = own["Title"]
        full.update(_SYSTEM_KEYS)
        if select is None:
            return full
        picked = {"@odata.etag": full["@odata.etag"], "id": full["id"]}
        for name in select:
            if name in full:
                picked[name] = full[name]
            elif name in definition.lookups and f"{name}LookupId" in own:
                picked[name] = self._lookup_value(name, own[f"{name}LookupId"])
        return picked

    def field_view(self, site_list: SiteList, item: dict[str, Any]) -> Mapping[str, Any]:
        """`render_fields(site_list, item)` as a mapping that renders only when it must (see FieldView)."""
        return FieldView(self, site_list, item)

    def _lookup_value(self, column: str, target_id: str) -> str | None:
        target = self.list_by_collection("customers").items.get(int(target_id)) if target_id.isdigit() else None
        return (target or {}).get("fields", {}).get("Title")

    def render_item(
        self,
        site_list: SiteList,
        item: dict[str, Any],
        *,
        graph_root: str,
        expand_fields: bool,
        select: AbstractCollection[str] | None = None,
    ) -> dict[str, Any]:
        """The listItem; `graph_root` (e.g. `http://127.0.0.1:8000/v1.0`) prefixes `@odata` links."""
        etag = item_etag(item["guid"], item["version"])
        wire: dict[str, Any] = {
            "@odata.etag": etag,
            "createdDateTime": item["created"],
            "eTag": etag,
            "id": str(item["id"]),
            "lastModifiedDateTime": item["modified"],
            "webUrl": self.item_web_url(site_list, item),
            "createdBy": {"user": _user(item.get("createdBy"))},
            "lastModifiedBy": {"user": _user(item.get("modifiedBy"))},
            "parentReference": {"id": site_list.id, "siteId": self.id},
            "contentType": {"id": site_list.definition.content_type_id, "name": site_list.definition.content_type},
        }
        if expand_fields:
            wire["fields@odata.context"] = (
                f"{graph_root}/$metadata#sites('{self.id}')/lists('{site_list.id}')"
                f"/items('{item['id']}')/fields/$entity"
            )
            wire["fields"] = self.render_fields(site_list, item, select)
        return wire


class FieldView(Mapping[str, Any]):
    """An item's fieldValueSet read column by column, for `$filter` predicates and indexes.

    A list's own columns never share a name with a computed one (id, Created, LinkTitle, ...),
    so they are read straight from the stored `fields`; any other column renders the whole
    set once. Filters mostly read own columns, so most items are never rendered at all.
    """

    def __init__(self, site: Site, site_list: SiteList, item: dict[str, Any]) -> None:
        self._site = site
        self._list = site_list
        self._item = item
        self._full: dict[str, Any] | None = None

    def __getitem__(self, column: str) -> Any:
        if column not in self._list.definition.columns:
            return self._rendered()[column]
        own = self._item.get("fields", {})
        if column not in own or (fidelity.OMIT_EMPTY_COLUMNS and own[column] in (None, "")):
            raise KeyError(column)
        return own[column]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rendered())

    def __len__(self) -> int:
        return len(self._rendered())

    def _rendered(self) -> dict[str, Any]:
        if self._full is None:
            self._full = self._site.render_fields(self._list, self._item)
        return self._full


def _user(stored: dict[str, Any] | None) -> dict[str, Any]:
    stored = stored or {}
    user: dict[str, Any] = {}
    if stored.get("email"):
        user["email"] = stored["email"]
    if stored.get("id"):
        user["id"] = str(stored["id"])
    user["displayName"] = stored.get("displayName") or fidelity.APP_EDITOR_NAME
    return user
