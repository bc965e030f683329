"""The categories a member bought, kept in the member's row instead of a table of their own.

Revision ID: cam0003
Revises: cam0002
Create Date: 2026-11-22 23:12:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cam0003"
down_revision: str | None = "cam0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("categories", sa.Text(), nullable=False, server_default=""))
    op.execute(
        "UPDATE members SET categories = COALESCE((SELECT ',' || string_agg(category, ',' ORDER BY"
        " category) || ',' FROM member_categories c WHERE c.member_id = members.member_id), '')"
        if op.get_bind().dialect.name == "postgresql"
        else "UPDATE members SET categories = COALESCE((SELECT ',' || group_concat(category, ',')"
        " || ',' FROM (SELECT category FROM member_categories c"
        " WHERE c.member_id = members.member_id ORDER BY category)), '')"
    )
    op.drop_table("member_categories")


def downgrade() -> None:
    op.create_table(
        "member_categories",
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("category", "member_id"),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("categories")
