"""Change tracking: feed checkpoints, webhook delivery dedup keys, the gateway's own writes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_checkpoint",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sync_checkpoint")),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_webhook_delivery")),
    )
    op.create_index(op.f("ix_webhook_delivery_expires_at"), "webhook_delivery", ["expires_at"], unique=False)
    op.create_table(
        "own_write",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_own_write")),
    )
    op.create_index(op.f("ix_own_write_expires_at"), "own_write", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_own_write_expires_at"), table_name="own_write")
    op.drop_table("own_write")
    op.drop_index(op.f("ix_webhook_delivery_expires_at"), table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_table("sync_checkpoint")
