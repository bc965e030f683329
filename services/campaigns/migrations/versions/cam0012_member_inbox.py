"""A member's messages are read newest first, for their inbox.

Revision ID: cam0012
Revises: cam0011
Create Date: 2026-12-06 01:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "cam0012"
down_revision: str | None = "cam0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_messages_member", "messages", ["member_id", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_member", table_name="messages")
