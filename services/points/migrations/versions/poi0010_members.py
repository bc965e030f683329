"""Points keeps the members it has learned of from identity, and its cursor on identity's
events.

Revision ID: poi0010
Revises: poi0009
Create Date: 2026-12-10 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.runtime.db

revision: str = "poi0010"
down_revision: str | None = "poi0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("survivor_id", sa.Uuid(), nullable=True),
        sa.Column("learned_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id"),
    )
    op.create_table(
        "feed_cursors",
        sa.Column("feed", sa.String(length=40), nullable=False),
        sa.Column("cursor", sa.String(length=200), nullable=False),
        sa.Column("events_applied", sa.BigInteger(), nullable=False),
        sa.Column("last_event_at", services.runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("applied_at", services.runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("feed"),
    )


def downgrade() -> None:
    op.drop_table("feed_cursors")
    op.drop_table("members")
