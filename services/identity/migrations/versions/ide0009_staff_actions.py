"""Staff actions: the audit trail of what staff did through identity.

Revision ID: ide0009
Revises: ide0008
Create Date: 2026-12-03 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.runtime.db

revision: str = "ide0009"
down_revision: str | None = "ide0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_actions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("staff_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_actions_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_actions_member_id"), ["member_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("staff_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_actions_member_id"))
        batch_op.drop_index(batch_op.f("ix_staff_actions_at"))
    op.drop_table("staff_actions")
