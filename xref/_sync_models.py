"""Tables of change tracking (issue 7): feed checkpoints, seen webhook deliveries, the gateway's own writes.

No customer data: a checkpoint is a system's opaque cursor (a Graph deltaLink, a CDC time),
a delivery is a hash of its dedup key, an own write is a record id and its version token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from xref._models import Base, UTCDateTime, utcnow


class SyncCheckpoint(Base):
    """Where one change feed (or one webhook registration) of one system stands.

    `name` says which: "quickbooks:cdc", "sharepoint:delta", "teamwork:scan",
    "sharepoint:subscription". `cursor` is the system's own token (deltaLink, CDC time,
    subscription id), kept opaque; `expires_at` is set where the cursor lapses (a Graph
    subscription); `details` holds small bookkeeping (when the feed last synced).
    """

    __tablename__ = "sync_checkpoint"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    system: Mapped[str] = mapped_column(String(32))
    cursor: Mapped[str | None] = mapped_column(Text, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SeenDelivery(Base):
    """A change already handled, by its dedup key (sha256 hex), so a repeated delivery has no second effect."""

    __tablename__ = "webhook_delivery"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    system: Mapped[str] = mapped_column(String(32))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class OwnWrite(Base):
    """A record version the gateway itself wrote, so its change notification is known as an echo after a restart.

    `key` is sha256 hex of (system, record id, version): version tokens are opaque and may be long.
    """

    __tablename__ = "own_write"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    system: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
