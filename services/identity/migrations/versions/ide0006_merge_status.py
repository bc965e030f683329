"""A merge is recorded as started before the points move, and done once identity applied it.

Revision ID: ide0006
Revises: ide0005
Create Date: 2026-12-03 10:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ide0006"
down_revision: str | None = "ide0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=10), nullable=False, server_default="done")
        )
        batch_op.create_index("ix_merges_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.drop_index("ix_merges_status")
        batch_op.drop_column("status")
