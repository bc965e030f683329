"""Who may enter a prize draw, in campaigns' targeting vocabulary; draws made before it are
open to everyone.

Revision ID: cam0009
Revises: cam0008
Create Date: 2026-12-04 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cam0009"
down_revision: str | None = "cam0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("draws") as batch:
        batch.add_column(
            sa.Column(
                "targeting",
                sa.Text(),
                nullable=False,
                server_default=sa.text("'{\"everyone\": true}'"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("draws") as batch:
        batch.drop_column("targeting")
