"""gateway: device events, vital readings, rejected messages

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:12:10.609846
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rejected_messages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_messages")),
    )
    with op.batch_alter_table("rejected_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rejected_messages_device_id"), ["device_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rejected_messages_reason"), ["reason"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_rejected_messages_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "device_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("device_id", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=True),
        sa.Column("device_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_events_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["elder_id"],
            ["elders.id"],
            name=op.f("fk_device_events_elder_id_elders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_events")),
        sa.UniqueConstraint("device_id", "message_id", name=op.f("uq_device_events_device_id")),
    )
    with op.batch_alter_table("device_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_device_events_elder_received", ["elder_id", "received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_device_events_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "vital_readings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bp_sys", sa.Integer(), nullable=True),
        sa.Column("bp_dia", sa.Integer(), nullable=True),
        sa.Column("hr", sa.Double(), nullable=True),
        sa.Column("spo2", sa.Double(), nullable=True),
        sa.Column("glucose", sa.Double(), nullable=True),
        sa.Column("temp", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_vital_readings_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["elder_id"],
            ["elders.id"],
            name=op.f("fk_vital_readings_elder_id_elders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vital_readings")),
        sa.UniqueConstraint("device_id", "message_id", name=op.f("uq_vital_readings_device_id")),
    )
    with op.batch_alter_table("vital_readings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_vital_readings_elder_measured", ["elder_id", "measured_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("vital_readings", schema=None) as batch_op:
        batch_op.drop_index("ix_vital_readings_elder_measured")

    op.drop_table("vital_readings")
    with op.batch_alter_table("device_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_events_received_at"))
        batch_op.drop_index("ix_device_events_elder_received")

    op.drop_table("device_events")
    with op.batch_alter_table("rejected_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rejected_messages_received_at"))
        batch_op.drop_index(batch_op.f("ix_rejected_messages_reason"))
        batch_op.drop_index(batch_op.f("ix_rejected_messages_device_id"))

    op.drop_table("rejected_messages")
