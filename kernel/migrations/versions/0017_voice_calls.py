"""voice calls: operator click-to-call through Twilio

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TARGETS = ("elder", "elder_second", "contact", "terminal")
STATES = (
    "placing", "calling_operator", "connecting", "ringing", "in_progress", "completed", "busy",
    "no_answer", "failed", "canceled", "operator_unreached",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "voice_calls",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=100), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("operator_phone", sa.String(length=20), nullable=False),
        sa.Column(
            "target",
            sa.Enum(
                *TARGETS, name="calltarget", native_enum=False, length=16, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("target_ref", sa.String(length=20), nullable=True),
        sa.Column("callee", sa.String(length=100), nullable=False),
        sa.Column("callee_phone", sa.String(length=20), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                *STATES, name="callstate", native_enum=False, length=24, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("operator_sid", sa.String(length=40), nullable=True),
        sa.Column("operator_status", sa.String(length=16), nullable=True),
        sa.Column("callee_sid", sa.String(length=40), nullable=True),
        sa.Column("callee_status", sa.String(length=16), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("hung_up_by", sa.String(length=16), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_voice_calls_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_voice_calls_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_calls")),
        sa.UniqueConstraint("request_key", name=op.f("uq_voice_calls_request_key")),
        sa.UniqueConstraint("operator_sid", name=op.f("uq_voice_calls_operator_sid")),
        sa.UniqueConstraint("callee_sid", name=op.f("uq_voice_calls_callee_sid")),
    )
    op.create_index(op.f("ix_voice_calls_incident_id"), "voice_calls", ["incident_id"])
    op.create_table(
        "terminal_lines",
        sa.Column("device_id", sa.String(length=20), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_terminal_lines_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_terminal_lines")),
    )


def downgrade() -> None:
    op.drop_table("terminal_lines")
    op.drop_index(op.f("ix_voice_calls_incident_id"), table_name="voice_calls")
    op.drop_table("voice_calls")
