"""Daily qualifying spend per member, filled from the purchases recorded so far.

Revision ID: poi0007
Revises: poi0006
Create Date: 2026-11-22 21:38:01.031940
"""

import uuid
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = "poi0007"
down_revision: str | None = "poi0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "spend_days",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "day"),
    )
    connection = op.get_bind()
    totals: dict[tuple[str, str], int] = {}
    purchases = connection.execute(
        sa.text("SELECT member_id, occurred_at, amount_minor, refunded_minor FROM purchases")
    )
    for member_id, occurred_at, amount, refunded in purchases:
        day = str(occurred_at)[:10]  # a datetime on PostgreSQL, ISO text on SQLite
        key = (str(uuid.UUID(str(member_id))), day)
        totals[key] = totals.get(key, 0) + amount - refunded
    spend_days = sa.table(
        "spend_days",
        sa.column("member_id", sa.Uuid()),
        sa.column("day", sa.Date()),
        sa.column("amount_minor", sa.BigInteger()),
    )
    if totals:
        connection.execute(
            spend_days.insert(),
            [
                {"member_id": uuid.UUID(m), "day": date.fromisoformat(d), "amount_minor": a}
                for (m, d), a in totals.items()
            ],
        )


def downgrade() -> None:
    op.drop_table("spend_days")
