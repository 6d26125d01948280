"""alarm engine: on-site deadlines, grouped technical alarms, door activity

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("onsite_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("group_key", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_incidents_onsite_due_at"), ["onsite_due_at"])
        batch_op.create_index(batch_op.f("ix_incidents_group_key"), ["group_key"])
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("last_activity_at")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_group_key"))
        batch_op.drop_index(batch_op.f("ix_incidents_onsite_due_at"))
        batch_op.drop_column("group_key")
        batch_op.drop_column("onsite_due_at")
