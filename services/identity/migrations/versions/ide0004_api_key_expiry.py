"""api key expiry: the end of a rotated key's grace period

Revision ID: ide0004
Revises: ide0003
Create Date: 2026-11-22 22:42:39.507236
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.runtime.db

revision: str = "ide0004"
down_revision: str | None = "ide0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", services.runtime.db.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
