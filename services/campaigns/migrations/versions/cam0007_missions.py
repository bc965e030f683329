"""Missions: what counts towards each member's goal per period, and the completions to pay.

Revision ID: cam0007
Revises: cam0006
Create Date: 2026-12-03 16:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.runtime.db

revision: str = "cam0007"
down_revision: str | None = "cam0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mission_facts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", services.runtime.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "member_id", "source"),
    )
    op.create_index(
        "ix_mission_facts_period", "mission_facts", ["campaign_id", "member_id", "period"]
    )
    op.create_table(
        "mission_rewards",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("created_at", services.runtime.db.UtcDateTime(), nullable=False),
        sa.Column("paid_at", services.runtime.db.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "member_id", "period"),
    )
    op.create_index("ix_mission_rewards_due", "mission_rewards", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_mission_rewards_due", table_name="mission_rewards")
    op.drop_table("mission_rewards")
    op.drop_index("ix_mission_facts_period", table_name="mission_facts")
    op.drop_table("mission_facts")
