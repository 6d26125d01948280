"""care calls: proactive care calls, their tries, and extreme-weather warnings

The calls owed to elders by risk (`care_calls`, at most one open per elder), each try at one
(`care_call_attempts`), and the typhoon, heat and cold warnings that add calls for a day
(`weather_warnings`).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STATUS = sa.Enum(
    "due", "done", "not_reached", "dropped", name="carecallstatus", native_enum=False,
    create_constraint=True, length=16,
)  # fmt: skip
WEATHER = sa.Enum(
    "typhoon", "heat", "cold", name="weatherkind", native_enum=False, create_constraint=True,
    length=8,
)  # fmt: skip
OPEN_CALL = sa.text("status = 'due'")


def upgrade() -> None:
    op.create_table(
        "care_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("community_code", sa.String(length=8), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("closed_by_centre", sa.String(length=8), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("dropped_reason", sa.String(length=16), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["elder_id"],
            ["elders.id"],
            name=op.f("fk_care_calls_elder_id_elders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["centres.code"],
            name=op.f("fk_care_calls_community_code_centres"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_care_calls_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_calls")),
    )
    op.create_index(op.f("ix_care_calls_elder_id"), "care_calls", ["elder_id"])
    op.create_index(op.f("ix_care_calls_community_code"), "care_calls", ["community_code"])
    op.create_index(op.f("ix_care_calls_due_on"), "care_calls", ["due_on"])
    op.create_index(op.f("ix_care_calls_status"), "care_calls", ["status"])
    op.create_index(
        "uq_care_calls_open_per_elder", "care_calls", ["elder_id"], unique=True,
        sqlite_where=OPEN_CALL, postgresql_where=OPEN_CALL,
    )  # fmt: skip

    op.create_table(
        "care_call_attempts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("called_at", UTC, nullable=False),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("centre_code", sa.String(length=8), nullable=True),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("follow_up_on", sa.Date(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["care_calls.id"],
            name=op.f("fk_care_call_attempts_call_id_care_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["elder_id"],
            ["elders.id"],
            name=op.f("fk_care_call_attempts_elder_id_elders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_care_call_attempts_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_care_call_attempts_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_call_attempts")),
    )
    op.create_index(op.f("ix_care_call_attempts_call_id"), "care_call_attempts", ["call_id"])
    op.create_index(op.f("ix_care_call_attempts_elder_id"), "care_call_attempts", ["elder_id"])

    op.create_table(
        "weather_warnings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", WEATHER, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weather_warnings")),
        sa.UniqueConstraint("kind", "day", name=op.f("uq_weather_warnings_kind")),
    )
    op.create_index(op.f("ix_weather_warnings_day"), "weather_warnings", ["day"])


def downgrade() -> None:
    op.drop_index(op.f("ix_weather_warnings_day"), table_name="weather_warnings")
    op.drop_table("weather_warnings")
    op.drop_index(op.f("ix_care_call_attempts_elder_id"), table_name="care_call_attempts")
    op.drop_index(op.f("ix_care_call_attempts_call_id"), table_name="care_call_attempts")
    op.drop_table("care_call_attempts")
    op.drop_index("uq_care_calls_open_per_elder", table_name="care_calls")
    op.drop_index(op.f("ix_care_calls_status"), table_name="care_calls")
    op.drop_index(op.f("ix_care_calls_due_on"), table_name="care_calls")
    op.drop_index(op.f("ix_care_calls_community_code"), table_name="care_calls")
    op.drop_index(op.f("ix_care_calls_elder_id"), table_name="care_calls")
    op.drop_table("care_calls")
