"""A completed mission's catalog reward and what points answered for it; completions made
before it give points alone.

Revision ID: cam0010
Revises: cam0009
Create Date: 2026-12-04 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cam0010"
down_revision: str | None = "cam0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mission_rewards") as batch:
        batch.add_column(sa.Column("reward_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("reward_status", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mission_rewards") as batch:
        batch.drop_column("reward_status")
        batch.drop_column("reward_id")
