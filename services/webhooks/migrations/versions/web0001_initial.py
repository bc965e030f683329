"""Endpoints, integration events, deliveries and feed cursors.

Revision ID: web0001
Revises:
Create Date: 2026-12-03 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.runtime.db

revision: str = "web0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = services.runtime.db.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "endpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("personal_data", sa.Boolean(), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("disabled_reason", sa.String(length=20), nullable=False),
        sa.Column("failing_since", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "integration_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", UTC, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("personal", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_integration_events_member_id", "integration_events", ["member_id"], unique=False
    )
    op.create_table(
        "deliveries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
            nullable=False,
        ),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("last_attempt_at", UTC, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=False),
        sa.Column("delivered_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )  # fmt: skip
    op.create_index(
        "ix_deliveries_line", "deliveries", ["endpoint_id", "member_id", "status", "id"]
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_log", "deliveries", ["endpoint_id", "id"])
    op.create_table(
        "feed_cursors",
        sa.Column("feed", sa.String(length=40), nullable=False),
        sa.Column("cursor", sa.String(length=200), nullable=False),
        sa.Column("events_applied", sa.BigInteger(), nullable=False),
        sa.Column("last_event_at", UTC, nullable=True),
        sa.Column("applied_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("feed"),
    )


def downgrade() -> None:
    op.drop_table("feed_cursors")
    op.drop_table("deliveries")
    op.drop_table("integration_events")
    op.drop_table("endpoints")
