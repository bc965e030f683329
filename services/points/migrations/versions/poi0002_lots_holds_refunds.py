"""Lots, redemption holds and refunds; balances gain held and debt buckets.

Points earned before this revision become one opening lot per member, available and never
expiring, so that every available point belongs to a lot.

Revision ID: poi0002
Revises: poi0001
Create Date: 2026-11-22 20:46:59.471808
"""

import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.runtime.db

revision: str = "poi0002"
down_revision: str | None = "poi0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("redemption_id", sa.String(length=100), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("expires_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", services.runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("store_id", "redemption_id"),
    )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_holds_member_id"), ["member_id"], unique=False)
        batch_op.create_index("ix_holds_status_expires_at", ["status", "expires_at"], unique=False)

    op.create_table(
        "lots",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("available_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", services.runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("created_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_in_range"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.create_index("ix_lots_expires_at", ["expires_at"], unique=False)
        batch_op.create_index(
            "ix_lots_member_spend", ["member_id", "status", "expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_lots_status_available_at", ["status", "available_at"], unique=False
        )

    op.create_table(
        "hold_allocations",
        sa.Column("hold_id", sa.Uuid(), nullable=False),
        sa.Column("lot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["holds.id"],
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"],
            ["lots.id"],
        ),
        sa.PrimaryKeyConstraint("hold_id", "lot_id"),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("refund_id", sa.String(length=100), nullable=False),
        sa.Column("purchase_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", services.runtime.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["purchase_id"],
            ["purchases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("store_id", "refund_id"),
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refunds_purchase_id"), ["purchase_id"], unique=False)

    with op.batch_alter_table("balances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("debt", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.create_check_constraint("available_not_negative", "available >= 0")
        batch_op.create_check_constraint("pending_not_negative", "pending >= 0")
        batch_op.create_check_constraint("held_not_negative", "held >= 0")
        batch_op.create_check_constraint("debt_not_positive", "debt <= 0")

    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("points_earned", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("refunded_minor", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("points_reversed", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("lot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )

    connection = op.get_bind()
    now = services.runtime.db.utcnow()
    lots = sa.table(
        "lots",
        sa.column("member_id", sa.Uuid()),
        sa.column("status", sa.String()),
        sa.column("points", sa.BigInteger()),
        sa.column("remaining", sa.BigInteger()),
        sa.column("available_at", services.runtime.db.UtcDateTime()),
        sa.column("expires_at", services.runtime.db.UtcDateTime()),
        sa.column("source", sa.String()),
        sa.column("created_at", services.runtime.db.UtcDateTime()),
    )
    balances = connection.execute(
        sa.text("SELECT member_id, available FROM balances WHERE available > 0")
    ).all()
    for member_id, available in balances:
        connection.execute(
            lots.insert().values(
                member_id=uuid.UUID(str(member_id)),
                status="available",
                points=available,
                remaining=available,
                available_at=now,
                expires_at=None,
                source="opening-balance",
                created_at=now,
            )
        )
    for purchase_id, result in connection.execute(
        sa.text("SELECT id, result FROM purchases")
    ).all():
        connection.execute(
            sa.text("UPDATE purchases SET points_earned = :points WHERE id = :id"),
            {"points": json.loads(result)["points_earned"], "id": purchase_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_column("lot_id")
        batch_op.drop_column("points_reversed")
        batch_op.drop_column("refunded_minor")
        batch_op.drop_column("points_earned")

    with op.batch_alter_table("balances", schema=None) as batch_op:
        batch_op.drop_constraint("debt_not_positive", type_="check")
        batch_op.drop_constraint("held_not_negative", type_="check")
        batch_op.drop_constraint("pending_not_negative", type_="check")
        batch_op.drop_constraint("available_not_negative", type_="check")
        batch_op.drop_column("debt")
        batch_op.drop_column("held")

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refunds_purchase_id"))

    op.drop_table("refunds")
    op.drop_table("hold_allocations")
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_index("ix_lots_status_available_at")
        batch_op.drop_index("ix_lots_member_spend")
        batch_op.drop_index("ix_lots_expires_at")

    op.drop_table("lots")
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index("ix_holds_status_expires_at")
        batch_op.drop_index(batch_op.f("ix_holds_member_id"))

    op.drop_table("holds")
