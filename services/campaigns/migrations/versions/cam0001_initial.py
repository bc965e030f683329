"""initial

Revision ID: cam0001
Revises:
Create Date: 2026-11-22 20:29:57.180021
"""

from collections.abc import Sequence

revision: str = "cam0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
