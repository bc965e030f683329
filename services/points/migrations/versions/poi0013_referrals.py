"""The referral program, the referrals points learns from identity, and the referrers' monthly
counts.

Revision ID: poi0013
Revises: poi0012
Create Date: 2026-12-03 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.runtime.db

revision: str = "poi0013"
down_revision: str | None = "poi0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "referral_program",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referrer_points", sa.BigInteger(), nullable=False),
        sa.Column("referee_points", sa.BigInteger(), nullable=False),
        sa.Column("min_purchase_minor", sa.BigInteger(), nullable=False),
        sa.Column("monthly_cap", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "referrals",
        sa.Column("friend_id", sa.Uuid(), nullable=False),
        sa.Column("referrer_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("purchase_id", sa.Uuid(), nullable=True),
        sa.Column("min_purchase_minor", sa.BigInteger(), nullable=False),
        sa.Column("rewarded_referrer_id", sa.Uuid(), nullable=True),
        sa.Column("referrer_points", sa.BigInteger(), nullable=False),
        sa.Column("friend_points", sa.BigInteger(), nullable=False),
        sa.Column("referrer_lot_id", BigId, nullable=True),
        sa.Column("friend_lot_id", BigId, nullable=True),
        sa.Column("referred_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("rewarded_at", services.runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("friend_id"),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referrals_referrer_id"), ["referrer_id"])
        batch_op.create_index(batch_op.f("ix_referrals_purchase_id"), ["purchase_id"])
    op.create_table(
        "referral_months",
        sa.Column("referrer_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("rewarded", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("referrer_id", "month"),
    )


def downgrade() -> None:
    op.drop_table("referral_months")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referrals_purchase_id"))
        batch_op.drop_index(batch_op.f("ix_referrals_referrer_id"))
    op.drop_table("referrals")
    op.drop_table("referral_program")
