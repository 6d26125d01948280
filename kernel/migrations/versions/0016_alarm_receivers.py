"""alarm receivers: SIA DC-09 accounts and supervision

A table of DC-09 accounts, each bound to a device of the register, with the panel's AES key
(none for a plain account), its supervision and self-test periods, and what the panel last
reported about itself (its periodic test, mains and battery troubles).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alarm_receiver_accounts",
        sa.Column("account", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=True),
        sa.Column("key_issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("falls_as_general_alarm", sa.Boolean(), nullable=False),
        sa.Column("supervision_s", sa.Integer(), nullable=True),
        sa.Column("test_every_s", sa.Integer(), nullable=True),
        sa.Column("last_test_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("test_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("test_failure", sa.String(length=64), nullable=True),
        sa.Column("mains_lost_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("battery_low_since", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_alarm_receiver_accounts_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_alarm_receiver_accounts")),
        sa.UniqueConstraint("device_id", name=op.f("uq_alarm_receiver_accounts_device_id")),
    )


def downgrade() -> None:
    op.drop_table("alarm_receiver_accounts")
