"""A tier reached by upgrade since the last review remembers the tier below it, so a refund
of the spend behind the upgrade can bring the member back down.

Revision ID: poi0009
Revises: poi0008
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.runtime.db

revision: str = "poi0009"
down_revision: str | None = "poi0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("member_tiers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("floor_tier", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column(
                "floor_review_at", services.runtime.db.UtcDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("member_tiers", schema=None) as batch_op:
        batch_op.drop_column("floor_review_at")
        batch_op.drop_column("floor_tier")
