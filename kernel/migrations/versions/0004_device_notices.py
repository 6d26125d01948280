"""device notices outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 13:13:06.205150
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_notices",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("device_id", sa.String(length=20), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("eta_min", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_notices_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_device_notices_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_notices")),
    )
    with op.batch_alter_table("device_notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_notices_device_id"), ["device_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_device_notices_sent_at"), ["sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("device_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_notices_sent_at"))
        batch_op.drop_index(batch_op.f("ix_device_notices_device_id"))

    op.drop_table("device_notices")
