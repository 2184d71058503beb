"""Which list items changed when: the record behind `/items/delta` and the trigger of change notifications.

Every write through the Graph API (and every out-of-band edit) stamps the item with the
next change number (`changeSeq`, kept on the stored item) and a delete leaves a
tombstone (`deleted_<collection>`, with its own change number). Both live in the store,
so a delta token handed out before a restart still works after it. The current change
number is the highest one stored, so counting costs no extra write.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sandbox._store import Collection, Store
from sandbox.sharepoint._lists import SiteList
from sandbox.sharepoint._wire import utc_now

log = logging.getLogger("sandbox.sharepoint")

_EPOCH_META = "sharepoint.delta_epoch"

#: Told which list changed, right after the change is stored.
ChangeListener = Callable[[SiteList], None]


class ChangeLog:
    """Change numbers of every list of the site, and the tombstones of deleted items."""

    def __init__(self, store: Store, lists: Sequence[SiteList]) -> None:
        self._store = store
        self._tombstones: dict[str, Collection] = {}
        seq = 0
        for site_list in lists:
            tombstones = store.collection(f"deleted_{site_list.definition.collection}")
            self._tombstones[site_list.id] = tombstones
            for item in site_list.items.all():
                seq = max(seq, int(item.get("changeSeq", 0)))
            for tombstone in tombstones.all():
                seq = max(seq, int(tombstone["changeSeq"]))
                site_list.items.reserve_through(int(tombstone["id"]))
        self.seq = seq
        epoch = store.get_meta(_EPOCH_META)
        if epoch is None:
            epoch = self._new_epoch()
        #: Part of every delta token; a new epoch makes every earlier token unknown (410).
        self.epoch = epoch
        self.listeners: list[ChangeListener] = []

    def _new_epoch(self) -> str:
        epoch = secrets.token_hex(4)
        self._store.set_meta(_EPOCH_META, epoch)
        return epoch

    def expire_tokens(self) -> None:
        """Every delta token handed out so far becomes unknown, as after Graph's retention runs out."""
        self.epoch = self._new_epoch()

    # --- writes ----------------------------------------------------------------------------

    def save(self, site_list: SiteList, item: dict[str, Any]) -> dict[str, Any]:
        """Store a created or changed item under the next change number."""
        self.seq += 1
        stamped = {**item, "changeSeq": self.seq}
        tombstones = self._tombstones[site_list.id]
        if tombstones.get(int(item["id"])) is not None:
            tombstones.delete(int(item["id"]))
        site_list.items.put(int(item["id"]), stamped)
        self._changed(site_list)
        return stamped

    def delete(self, site_list: SiteList, item_id: int) -> None:
        self.seq += 1
        site_list.items.delete(item_id)
        self._tombstones[site_list.id].put(item_id, {"id": item_id, "changeSeq": self.seq, "deleted": utc_now()})
        self._changed(site_list)

    def _changed(self, site_list: SiteList) -> None:
        for listener in self.listeners:
            try:
                listener(site_list)
            except Exception:  # a notification problem must never fail the write that caused it
                log.exception("change listener failed")

    # --- reads -----------------------------------------------------------------------------

    def changed_since(self, site_list: SiteList, since: int) -> Iterator[tuple[int, dict[str, Any] | None]]:
        """(item id, item or None if deleted) of what changed after change number `since`, by id."""
        found: dict[int, dict[str, Any] | None] = {}
        for tombstone in self._tombstones[site_list.id].all():
            if int(tombstone["changeSeq"]) > since:
                found[int(tombstone["id"])] = None
        for item in site_list.items.all():
            if int(item.get("changeSeq", 0)) > since:
                found[int(item["id"])] = item
        for item_id in sorted(found):
            yield item_id, found[item_id]
