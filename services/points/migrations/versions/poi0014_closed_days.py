"""Closed days' report figures, and postings found by when they were written.

Revision ID: poi0014
Revises: poi0013
Create Date: 2026-12-03 16:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "poi0014"
down_revision: str | None = "poi0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIGURES = ("earned", "reversed", "redeemed", "expired", "adjusted", "opened", "rewards", "owed")


def upgrade() -> None:
    op.create_table(
        "closed_days",
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in FIGURES),
        sa.PrimaryKeyConstraint("day"),
    )
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.create_index("ix_postings_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_index("ix_postings_created_at")
    op.drop_table("closed_days")
