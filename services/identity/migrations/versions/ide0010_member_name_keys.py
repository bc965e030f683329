"""Members' name keys, for the support desk's search by name prefix.

Revision ID: ide0010
Revises: ide0009
Create Date: 2026-12-03 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.identity.names import search_keys

revision: str = "ide0010"
down_revision: str | None = "ide0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("name_key", sa.String(length=201), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("last_name_key", sa.String(length=201), nullable=False, server_default="")
        )
    members = sa.table(
        "members",
        sa.column("id", sa.Uuid()),
        sa.column("first_name", sa.String()),
        sa.column("last_name", sa.String()),
        sa.column("name_key", sa.String()),
        sa.column("last_name_key", sa.String()),
    )
    bind = op.get_bind()
    named = sa.or_(members.c.first_name != "", members.c.last_name != "")
    after = None
    while True:
        query = sa.select(members.c.id, members.c.first_name, members.c.last_name).where(named)
        if after is not None:
            query = query.where(members.c.id > after)
        rows = bind.execute(query.order_by(members.c.id).limit(BATCH)).all()
        if not rows:
            break
        bind.execute(
            members.update()
            .where(members.c.id == sa.bindparam("member_id"))
            .values(name_key=sa.bindparam("key"), last_name_key=sa.bindparam("last_key")),
            [
                dict(zip(("key", "last_key"), search_keys(first, last), strict=True), member_id=id_)
                for id_, first, last in rows
            ],
        )
        after = rows[-1].id
    op.create_index(
        "ix_members_name_key",
        "members",
        ["name_key"],
        postgresql_ops={"name_key": "text_pattern_ops"},
    )
    op.create_index(
        "ix_members_last_name_key",
        "members",
        ["last_name_key"],
        postgresql_ops={"last_name_key": "text_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_members_last_name_key", table_name="members")
    op.drop_index("ix_members_name_key", table_name="members")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("last_name_key")
        batch_op.drop_column("name_key")
