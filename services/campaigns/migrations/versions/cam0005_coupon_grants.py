"""Coupon campaigns: the coupons given to each member, and each member's coupons in the view.

Revision ID: cam0005
Revises: cam0004
Create Date: 2026-12-03 15:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UtcDateTime

revision: str = "cam0005"
down_revision: str | None = "cam0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coupon_grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("coupon_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("issued_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("used_at", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "member_id"),
    )
    op.create_index("ix_coupon_grants_due", "coupon_grants", ["status", "created_at"])
    op.create_index("ix_coupon_grants_coupon_id", "coupon_grants", ["coupon_id"])
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("coupons_queued_at", UtcDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("coupons_unused", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("coupons_used", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("coupons_used")
        batch_op.drop_column("coupons_unused")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("coupons_queued_at")
    op.drop_index("ix_coupon_grants_coupon_id", table_name="coupon_grants")
    op.drop_index("ix_coupon_grants_due", table_name="coupon_grants")
    op.drop_table("coupon_grants")
