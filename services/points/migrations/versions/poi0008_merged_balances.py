"""A merged duplicate's balance row names its survivor and can hold no points.

Revision ID: poi0008
Revises: poi0007
Create Date: 2026-12-03 10:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "poi0008"
down_revision: str | None = "poi0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MERGED_HOLDS_NOTHING = (
    "merged_into IS NULL OR (available = 0 AND pending = 0 AND held = 0 AND debt = 0)"
)


def upgrade() -> None:
    with op.batch_alter_table("balances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into", sa.Uuid(), nullable=True))
        batch_op.create_check_constraint("merged_holds_nothing", MERGED_HOLDS_NOTHING)
    # Merges recorded before: the duplicate is the member the merge's posting emptied.
    op.execute(
        """
        UPDATE balances SET merged_into = (
            SELECT a.other_member_id FROM adjustments a
            WHERE a.kind = 'merge' AND a.member_id = balances.member_id
        )
        WHERE member_id IN (SELECT member_id FROM adjustments WHERE kind = 'merge')
          AND available = 0 AND pending = 0 AND held = 0 AND debt = 0
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("balances", schema=None) as batch_op:
        batch_op.drop_constraint("merged_holds_nothing", type_="check")
        batch_op.drop_column("merged_into")
