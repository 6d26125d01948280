"""judged mark: each device event carries the alarm engine's mark; the id cursor goes

The engine read the events after "the highest id handled". Ids are taken when a row is
inserted, not when it commits, so a row committed after a higher one (an alarm written at once
while a batch of readings waited, two gateways on PostgreSQL) was passed over for good. Each
event now carries `judged_at`, NULL until the engine has judged it (set in the same transaction
as its judging), with a partial index over the unjudged rows; the cursor table goes.

Rows the cursor had passed are marked judged; rows after it stay unjudged and are judged next.
On PostgreSQL the column is added with a constant default (no table rewrite) that then goes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURSOR = "alarm-engine"
UNJUDGED = sa.text("judged_at IS NULL")
# Alarms are claimed ahead of a backlog of readings: their own small index, so finding them does
# not scan every unjudged reading.
UNJUDGED_ALARMS = sa.text("judged_at IS NULL AND type IN ('sos', 'fall')")


def upgrade() -> None:
    connection = op.get_bind()
    cursor = connection.execute(
        sa.text("SELECT last_event_id FROM pipeline_cursors WHERE name = :name"), {"name": CURSOR}
    ).scalar()
    last = int(cursor or 0)
    if connection.dialect.name == "postgresql":
        # A constant default fills existing rows without rewriting the table (PostgreSQL 11+).
        op.add_column(
            "device_events",
            sa.Column(
                "judged_at",
                sa.DateTime(timezone=True),
                nullable=True,
                server_default=sa.text("'1970-01-01 00:00:00+00'"),
            ),
        )
        op.alter_column("device_events", "judged_at", server_default=None)
        op.execute(
            sa.text("UPDATE device_events SET judged_at = NULL WHERE id > :last").bindparams(
                last=last
            )
        )
    else:
        op.add_column(
            "device_events", sa.Column("judged_at", sa.DateTime(timezone=True), nullable=True)
        )
        op.execute(
            sa.text(
                "UPDATE device_events SET judged_at = received_at WHERE id <= :last"
            ).bindparams(last=last)
        )
    op.add_column("device_events", sa.Column("judge_error", sa.Text(), nullable=True))
    op.create_index(
        "ix_device_events_unjudged",
        "device_events",
        ["id"],
        unique=False,
        sqlite_where=UNJUDGED,
        postgresql_where=UNJUDGED,
    )
    op.create_index(
        "ix_device_events_unjudged_alarms",
        "device_events",
        ["id"],
        unique=False,
        sqlite_where=UNJUDGED_ALARMS,
        postgresql_where=UNJUDGED_ALARMS,
    )
    op.drop_table("pipeline_cursors")


def downgrade() -> None:
    cursors = op.create_table(
        "pipeline_cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column(
            "last_event_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pipeline_cursors")),
    )
    # The cursor stops before the first unjudged event, so nothing unjudged is passed over.
    connection = op.get_bind()
    first_unjudged = connection.execute(
        sa.text("SELECT min(id) FROM device_events WHERE judged_at IS NULL")
    ).scalar()
    last = (
        int(first_unjudged) - 1
        if first_unjudged is not None
        else int(
            connection.execute(sa.text("SELECT coalesce(max(id), 0) FROM device_events")).scalar()
            or 0
        )
    )
    op.bulk_insert(cursors, [{"name": CURSOR, "last_event_id": last}])
    op.drop_index("ix_device_events_unjudged_alarms", table_name="device_events")
    op.drop_index("ix_device_events_unjudged", table_name="device_events")
    with op.batch_alter_table("device_events", schema=None) as batch_op:
        batch_op.drop_column("judge_error")
        batch_op.drop_column("judged_at")
