"""Purchases remember what to ask campaigns while their bonus is owed.

Revision ID: poi0005
Revises: poi0004
Create Date: 2026-11-22 21:26:08.241888
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "poi0005"
down_revision: str | None = "poi0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owed_request", sa.Text(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_purchases_campaigns_evaluated"), ["campaigns_evaluated"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchases_campaigns_evaluated"))
        batch_op.drop_column("owed_request")
