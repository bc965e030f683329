"""Texts handed to the SMS provider, with the provider's id and delivery status.

Revision ID: ide0008
Revises: ide0007
Create Date: 2026-12-03 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.runtime.db

revision: str = "ide0008"
down_revision: str | None = "ide0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_deliveries",
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("provider_message_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("error_status", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id"),
    )
    with op.batch_alter_table("sms_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_deliveries_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sms_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_deliveries_status"))
    op.drop_table("sms_deliveries")
