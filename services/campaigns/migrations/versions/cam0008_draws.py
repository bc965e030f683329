"""Prize draws, the chances members hold in them, and chances bought with points.

Revision ID: cam0008
Revises: cam0007
Create Date: 2026-12-03 16:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.runtime.db

revision: str = "cam0008"
down_revision: str | None = "cam0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "draws",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("closes_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("prizes", sa.Text(), nullable=False),
        sa.Column("per_purchase", sa.Integer(), nullable=False),
        sa.Column("per_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("points_per_chance", sa.BigInteger(), nullable=False),
        sa.Column("max_per_member", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("seed_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("entries", sa.Text(), nullable=False),
        sa.Column("winners", sa.Text(), nullable=False),
        sa.Column("created_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", services.runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_draws_status", "draws", ["status"])
    op.create_table(
        "draw_chances",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("draw_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=150), nullable=False),
        sa.Column("chances", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["draw_id"], ["draws.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("draw_id", "source"),
    )
    op.create_index("ix_draw_chances_draw_id", "draw_chances", ["draw_id"])
    op.create_index("ix_draw_chances_member_id", "draw_chances", ["member_id"])
    op.create_table(
        "draw_purchases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("draw_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("chances", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["draw_id"], ["draws.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("draw_id", "member_id", "request_id"),
    )
    op.create_index("ix_draw_purchases_draw_id", "draw_purchases", ["draw_id"])
    op.create_index("ix_draw_purchases_status", "draw_purchases", ["status"])


def downgrade() -> None:
    op.drop_table("draw_purchases")
    op.drop_table("draw_chances")
    op.drop_table("draws")
