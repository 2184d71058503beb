"""Write path: the outbox of unconfirmed source writes, idempotency keys, the audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_operation",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("mutation_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("base_version", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_operation")),
    )
    op.create_index(
        op.f("ix_outbox_operation_status_next_attempt_at"),
        "outbox_operation",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(op.f("ix_outbox_operation_customer_id"), "outbox_operation", ["customer_id"], unique=False)
    op.create_index(
        "ix_outbox_operation_system_record_id_status", "outbox_operation", ["system", "record_id", "status"], unique=False
    )
    op.create_table(
        "idempotency_key",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("operation", sa.String(length=100), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_key")),
    )
    op.create_index(op.f("ix_idempotency_key_expires_at"), "idempotency_key", ["expires_at"], unique=False)
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("mutation", sa.String(length=100), nullable=False),
        sa.Column("mutation_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    op.create_index(op.f("ix_audit_entry_customer_id"), "audit_entry", ["customer_id"], unique=False)
    op.create_index(op.f("ix_audit_entry_mutation_id"), "audit_entry", ["mutation_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_entry_mutation_id"), table_name="audit_entry")
    op.drop_index(op.f("ix_audit_entry_customer_id"), table_name="audit_entry")
    op.drop_table("audit_entry")
    op.drop_index(op.f("ix_idempotency_key_expires_at"), table_name="idempotency_key")
    op.drop_table("idempotency_key")
    op.drop_index("ix_outbox_operation_system_record_id_status", table_name="outbox_operation")
    op.drop_index(op.f("ix_outbox_operation_customer_id"), table_name="outbox_operation")
    op.drop_index(op.f("ix_outbox_operation_status_next_attempt_at"), table_name="outbox_operation")
    op.drop_table("outbox_operation")
