"""Members' referral codes, and who referred a member.

Revision ID: ide0013
Revises: ide0012
Create Date: 2026-12-03 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ide0013"
down_revision: str | None = "ide0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referral_code", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("referrer_id", sa.Uuid(), nullable=True))
        batch_op.create_unique_constraint("uq_members_referral_code", ["referral_code"])
        batch_op.create_index(batch_op.f("ix_members_referrer_id"), ["referrer_id"], unique=False)
        batch_op.create_foreign_key("fk_members_referrer_id", "members", ["referrer_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint("fk_members_referrer_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_members_referrer_id"))
        batch_op.drop_constraint("uq_members_referral_code", type_="unique")
        batch_op.drop_column("referrer_id")
        batch_op.drop_column("referral_code")
