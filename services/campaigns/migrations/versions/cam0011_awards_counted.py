"""An award says whether its points are in its campaign's awarded points yet: a campaign
without a budget counts its awards in batches. Every award made before was counted as made.

Revision ID: cam0011
Revises: cam0010
Create Date: 2026-12-04 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cam0011"
down_revision: str | None = "cam0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("awards") as batch:
        batch.add_column(
            sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_index(
        "ix_awards_uncounted",
        "awards",
        ["campaign_id"],
        postgresql_where=sa.text("NOT counted"),
        sqlite_where=sa.text("NOT counted"),
    )


def downgrade() -> None:
    op.execute(
        "UPDATE campaigns SET awarded_points = awarded_points + (SELECT COALESCE(SUM(points), 0)"
        " FROM awards WHERE awards.campaign_id = campaigns.id AND NOT awards.counted)"
    )
    op.drop_index("ix_awards_uncounted", table_name="awards")
    with op.batch_alter_table("awards") as batch:
        batch.drop_column("counted")
