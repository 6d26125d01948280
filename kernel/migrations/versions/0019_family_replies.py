"""family replies: the family's SMS answers and the numbers that opted out

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("going", "cannot", "text", "stop", "start")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "family_replies",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("message_sid", sa.String(length=40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*KINDS, name="replykind", native_enum=False, length=8, create_constraint=True),
            nullable=False,
        ),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("family_message_id", BIG_ID, nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("contact_name", sa.String(length=64), nullable=False),
        sa.Column("relation", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_family_replies_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["family_message_id"],
            ["family_messages.id"],
            name=op.f("fk_family_replies_family_message_id_family_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["emergency_contacts.id"],
            name=op.f("fk_family_replies_contact_id_emergency_contacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_replies")),
        sa.UniqueConstraint("message_sid", name=op.f("uq_family_replies_message_sid")),
    )
    with op.batch_alter_table("family_replies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_family_replies_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_family_replies_phone"), ["phone"], unique=False)

    op.create_table(
        "family_opt_outs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.String(length=160), nullable=False),
        sa.Column("reply_id", BIG_ID, nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("emergencies_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("emergencies_confirmed_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["reply_id"],
            ["family_replies.id"],
            name=op.f("fk_family_opt_outs_reply_id_family_replies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_family_opt_outs_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_opt_outs")),
        sa.UniqueConstraint("phone", name=op.f("uq_family_opt_outs_phone")),
    )


def downgrade() -> None:
    op.drop_table("family_opt_outs")
    with op.batch_alter_table("family_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_replies_phone"))
        batch_op.drop_index(batch_op.f("ix_family_replies_incident_id"))
    op.drop_table("family_replies")
