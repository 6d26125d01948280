"""linked incidents: an incident that joins or is merged into another, its call-back task

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:40:00
"""

from collections.abc import Sequence

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
