"""Merges, erasure, one-time codes, sent messages and the outbox of member events.

Revision ID: ide0005
Revises: ide0004
Create Date: 2026-11-22 22:25:56.880848
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.runtime.db

revision: str = "ide0005"
down_revision: str | None = "ide0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "one_time_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("created_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", services.runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("one_time_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_one_time_codes_phone_hash"), ["phone_hash"], unique=False
        )

    op.create_table(
        "outbox",
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("occurred_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sequence"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_txid"), ["txid"], unique=False)

    op.create_table(
        "sent_messages",
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("created_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id"),
    )
    with op.batch_alter_table("sent_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sent_messages_member_id"), ["member_id"], unique=False)

    op.create_table(
        "erasures",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("erased_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
        ),
        sa.PrimaryKeyConstraint("member_id"),
    )
    op.create_table(
        "merges",
        sa.Column("duplicate_id", sa.Uuid(), nullable=False),
        sa.Column("survivor_id", sa.Uuid(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("merged_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["duplicate_id"],
            ["members.id"],
        ),
        sa.ForeignKeyConstraint(
            ["survivor_id"],
            ["members.id"],
        ),
        sa.PrimaryKeyConstraint("duplicate_id"),
    )
    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_merges_survivor_id"), ["survivor_id"], unique=False)

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("gender", sa.String(length=20), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("interests", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("merged_into", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("erased_at", services.runtime.db.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.alter_column("card_number", existing_type=sa.VARCHAR(length=16), nullable=True)
        batch_op.create_index(batch_op.f("ix_members_merged_into"), ["merged_into"], unique=False)
        batch_op.create_foreign_key("fk_members_merged_into", "members", ["merged_into"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint("fk_members_merged_into", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_members_merged_into"))
        batch_op.alter_column("card_number", existing_type=sa.VARCHAR(length=16), nullable=False)
        batch_op.drop_column("erased_at")
        batch_op.drop_column("merged_into")
        batch_op.drop_column("interests")
        batch_op.drop_column("gender")

    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merges_survivor_id"))

    op.drop_table("merges")
    op.drop_table("erasures")
    with op.batch_alter_table("sent_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sent_messages_member_id"))

    op.drop_table("sent_messages")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_txid"))

    op.drop_table("outbox")
    with op.batch_alter_table("one_time_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_one_time_codes_phone_hash"))

    op.drop_table("one_time_codes")
