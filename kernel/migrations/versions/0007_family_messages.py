"""family messages: durable SMS jobs per incident step and contact

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STEPS = ("opened", "on_the_way", "resolved", "welfare_finding", "manual")
STATES = ("pending", "sending", "unsure", "accepted", "outbox", "failed", "skipped", "review")


def upgrade() -> None:
    op.create_table(
        "family_messages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column(
            "step",
            sa.Enum(
                *STEPS, name="familystep", native_enum=False, length=16, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("dedupe_key", sa.String(length=80), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("contact_rank", sa.Integer(), nullable=False),
        sa.Column("contact_name", sa.String(length=64), nullable=False),
        sa.Column("relation", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(*STATES, name="smsstate", native_enum=False, length=16, create_constraint=True),
            nullable=False,
        ),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempt_key", sa.String(length=40), nullable=True),
        sa.Column("sending_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("twilio_sid", sa.String(length=40), nullable=True),
        sa.Column("delivery_status", sa.String(length=16), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["emergency_contacts.id"],
            name=op.f("fk_family_messages_contact_id_emergency_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_family_messages_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_family_messages_dedupe_key")),
        sa.UniqueConstraint("twilio_sid", name=op.f("uq_family_messages_twilio_sid")),
    )
    with op.batch_alter_table("family_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_family_messages_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index("ix_family_messages_state_due_at", ["state", "due_at"], unique=False)
        batch_op.create_index(
            "ix_family_messages_phone_sent_at", ["phone", "sent_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("family_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_family_messages_phone_sent_at")
        batch_op.drop_index("ix_family_messages_state_due_at")
        batch_op.drop_index(batch_op.f("ix_family_messages_incident_id"))

    op.drop_table("family_messages")
