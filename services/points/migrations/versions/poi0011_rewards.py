"""The rewards catalog, coupons, the lots a redemption spent, and partner-code pools.

Revision ID: poi0011
Revises: poi0010
Create Date: 2026-12-03 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.runtime.db

revision: str = "poi0011"
down_revision: str | None = "poi0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Time = services.runtime.db.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "rewards",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("name_fa", sa.String(length=200), nullable=False),
        sa.Column("description_fa", sa.Text(), nullable=False),
        sa.Column("points_cost", sa.BigInteger(), nullable=False),
        sa.Column("stock", sa.BigInteger(), nullable=True),
        sa.Column("per_member_limit", sa.Integer(), nullable=False),
        sa.Column("valid_days", sa.Integer(), nullable=False),
        sa.Column("starts_at", Time(timezone=True), nullable=True),
        sa.Column("ends_at", Time(timezone=True), nullable=True),
        sa.Column("visibility", sa.Text(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("refund_on_cancel", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", Time(timezone=True), nullable=False),
        sa.Column("updated_at", Time(timezone=True), nullable=False),
        sa.CheckConstraint("stock >= 0", name="ck_rewards_stock_not_negative"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "coupons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("reward_id", sa.Uuid(), nullable=True),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_fa", sa.String(length=200), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("partner_code", sa.String(length=200), nullable=True),
        sa.Column("points_spent", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.String(length=100), nullable=True),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("issued_at", Time(timezone=True), nullable=False),
        sa.Column("expires_at", Time(timezone=True), nullable=True),
        sa.Column("used_at", Time(timezone=True), nullable=True),
        sa.Column("store_id", sa.Uuid(), nullable=True),
        sa.Column("transaction_id", sa.String(length=100), nullable=True),
        sa.Column("use_amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("use_currency", sa.String(length=3), nullable=True),
        sa.Column("discount_minor", sa.BigInteger(), nullable=True),
        sa.Column("cancelled_by", sa.String(length=100), nullable=True),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.Column("points_returned", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
        sa.UniqueConstraint("member_id", "request_id"),
    )
    op.create_index("ix_coupons_member_id", "coupons", ["member_id"])
    op.create_index("ix_coupons_reward_id_status", "coupons", ["reward_id", "status"])
    op.create_index("ix_coupons_status_expires_at", "coupons", ["status", "expires_at"])
    op.create_table(
        "coupon_allocations",
        sa.Column("coupon_id", sa.Uuid(), nullable=False),
        sa.Column("lot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["coupon_id"], ["coupons.id"]),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"]),
        sa.PrimaryKeyConstraint("coupon_id", "lot_id"),
    )
    op.create_table(
        "partner_codes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reward_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.Column("code_key", sa.String(length=200), nullable=False),
        sa.Column("coupon_id", sa.Uuid(), nullable=True),
        sa.Column("added_at", Time(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["reward_id"], ["rewards.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reward_id", "code_key"),
        sa.UniqueConstraint("coupon_id"),
    )
    op.create_index("ix_partner_codes_free", "partner_codes", ["reward_id", "coupon_id"])


def downgrade() -> None:
    op.drop_table("partner_codes")
    op.drop_table("coupon_allocations")
    op.drop_table("coupons")
    op.drop_table("rewards")
