"""coverage notices acknowledged: who saw to a notice of a gap, and when

A notice of a gap calls for a supervisor's attention (their hand-over page, a banner on every
console page) until one of them acknowledges it: `acknowledged_by` (their name; the audit log keeps their account) and
`acknowledged_at`, both empty until then.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("coverage_notices") as table:
        table.add_column(sa.Column("acknowledged_by", sa.String(length=64), nullable=True))
        table.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("coverage_notices") as table:
        table.drop_column("acknowledged_at")
        table.drop_column("acknowledged_by")
