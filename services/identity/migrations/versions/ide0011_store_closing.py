"""A store can be closed.

Revision ID: ide0011
Revises: ide0010
Create Date: 2026-12-03 16:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.runtime.db

revision: str = "ide0011"
down_revision: str | None = "ide0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("closed_at", services.runtime.db.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
