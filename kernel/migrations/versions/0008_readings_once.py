"""readings once: a vital reading is its device event; vital_readings and an unused index go

Every reading was written twice by the gateway, as a device event (which the alarm engine
judges) and again as a row of vital_readings (which only the elder's chart read). The chart now
reads the events, so the second copy, and its two indexes, are no longer written. The index on
device_events.received_at alone was read by no query.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READING_FIELDS = ("bp_sys", "bp_dia", "hr", "spo2", "glucose", "temp")
BACKFILL_BATCH = 5_000


def upgrade() -> None:
    with op.batch_alter_table("vital_readings", schema=None) as batch_op:
        batch_op.drop_index("ix_vital_readings_elder_measured")
    op.drop_table("vital_readings")
    with op.batch_alter_table("device_events", schema=None) as batch_op:
        batch_op.drop_index("ix_device_events_received_at")


def downgrade() -> None:
    with op.batch_alter_table("device_events", schema=None) as batch_op:
        batch_op.create_index("ix_device_events_received_at", ["received_at"], unique=False)
    readings = op.create_table(
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
    _backfill(readings)


def _backfill(readings: sa.Table) -> None:
    """The older schema's copy of every reading, rebuilt from the events that hold them."""
    events = sa.table(
        "device_events",
        sa.column("id", sa.Integer()),
        sa.column("device_id", sa.String()),
        sa.column("message_id", sa.String()),
        sa.column("type", sa.String()),
        sa.column("elder_id", sa.Integer()),
        sa.column("device_ts", sa.DateTime(timezone=True)),
        sa.column("received_at", sa.DateTime(timezone=True)),
        sa.column("payload", sa.JSON()),
    )
    connection = op.get_bind()
    after = 0
    while True:
        batch = connection.execute(
            sa.select(events)
            .where(events.c.id > after, events.c.type == "vitals", events.c.elder_id.is_not(None))
            .order_by(events.c.id)
            .limit(BACKFILL_BATCH)
        ).all()
        if not batch:
            return
        connection.execute(
            readings.insert(),
            [
                {
                    "elder_id": event.elder_id,
                    "device_id": event.device_id,
                    "message_id": event.message_id,
                    "measured_at": event.device_ts or event.received_at,
                    "received_at": event.received_at,
                    **{name: event.payload.get(name) for name in READING_FIELDS},
                }
                for event in batch
            ],
        )
        after = batch[-1].id
