"""elder care details: what the call centre keeps up to date beyond the register

An edit version, the register fields last changed in the console, a second phone, how to get in
(key holder, key-safe and door codes), medications, allergies, the family or 社康 doctor and the
preferred hospital. Every elder already registered starts at version 1 with none of these.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Added in place, never by rebuilding the table (see 0011: a rebuild on SQLite would cascade).
COLUMNS = (
    sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    sa.Column("console_edits", sa.JSON(), nullable=True),
    sa.Column("second_phone", sa.String(length=20), nullable=True),
    sa.Column("key_holder_name", sa.String(length=64), nullable=True),
    sa.Column("key_holder_relation", sa.String(length=32), nullable=True),
    sa.Column("key_holder_phone", sa.String(length=20), nullable=True),
    sa.Column("key_safe_code", sa.String(length=32), nullable=True),
    sa.Column("door_code", sa.String(length=32), nullable=True),
    sa.Column("access_notes", sa.Text(), server_default="", nullable=False),
    sa.Column("medications", sa.JSON(), server_default="[]", nullable=False),
    sa.Column("allergies", sa.JSON(), server_default="[]", nullable=False),
    sa.Column("doctor_name", sa.String(length=64), nullable=True),
    sa.Column("doctor_phone", sa.String(length=20), nullable=True),
    sa.Column("doctor_clinic", sa.String(length=128), nullable=True),
    sa.Column("preferred_hospital", sa.String(length=128), nullable=True),
)


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column("elders", column)


def downgrade() -> None:
    for column in reversed(COLUMNS):
        op.drop_column("elders", column.name)
