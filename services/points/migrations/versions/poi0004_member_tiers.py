"""Member tiers, with the date each is next reviewed.

Revision ID: poi0004
Revises: poi0003
Create Date: 2026-11-22 21:18:56.474992
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.runtime.db

revision: str = "poi0004"
down_revision: str | None = "poi0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_tiers",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("tier", sa.String(length=40), nullable=False),
        sa.Column("since", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("review_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id"),
    )
    with op.batch_alter_table("member_tiers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_member_tiers_review_at"), ["review_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("member_tiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_tiers_review_at"))

    op.drop_table("member_tiers")
