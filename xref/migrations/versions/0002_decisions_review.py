"""Steward decisions and the review queue.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAIR = ("left_system", "left_record_id", "right_system", "right_record_id")


def _pair_columns() -> list[sa.Column]:
    return [
        sa.Column("left_system", sa.String(length=32), nullable=False),
        sa.Column("left_record_id", sa.String(length=128), nullable=False),
        sa.Column("right_system", sa.String(length=32), nullable=False),
        sa.Column("right_record_id", sa.String(length=128), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        *_pair_columns(),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
        sa.UniqueConstraint(*_PAIR, name=op.f("uq_decision_left_system_left_record_id_right_system_right_record_id")),
    )
    op.create_index(op.f("ix_decision_status"), "decision", ["status"], unique=False)
    op.create_table(
        "review_item",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_pair_columns(),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_item")),
        sa.UniqueConstraint(
            *_PAIR, name=op.f("uq_review_item_left_system_left_record_id_right_system_right_record_id")
        ),
    )
    op.create_index(op.f("ix_review_item_status"), "review_item", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_review_item_status"), table_name="review_item")
    op.drop_table("review_item")
    op.drop_index(op.f("ix_decision_status"), table_name="decision")
    op.drop_table("decision")
