"""sign-in throttles: failures per account and place, the places an account signs in from,
failures per client address

Five failures from anywhere locked an account for 15 minutes, so a stranger could lock every
operator out. Failures now count per account *and place* (a browser the account signed in
from, an address it signed in from, or elsewhere), and per client address. The old lockout
rows are dropped: they held nothing but the last quarter of an hour's failures.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _staff_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["staff_id"], ["staff.id"], name=op.f(f"fk_{table}_staff_id_staff"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.drop_table("sign_in_failures")
    op.create_table(
        "sign_in_failures",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        _staff_key("sign_in_failures"),
        sa.PrimaryKeyConstraint("staff_id", "place", name=op.f("pk_sign_in_failures")),
    )
    op.create_table(
        "sign_in_places",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=80), nullable=False),
        sa.Column("last_signed_in_at", sa.DateTime(timezone=True), nullable=False),
        _staff_key("sign_in_places"),
        sa.PrimaryKeyConstraint("staff_id", "place", name=op.f("pk_sign_in_places")),
    )
    with op.batch_alter_table("sign_in_places", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sign_in_places_last_signed_in_at"), ["last_signed_in_at"], unique=False
        )
    op.create_table(
        "client_sign_in_failures",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_client_sign_in_failures")),
    )
    with op.batch_alter_table("client_sign_in_failures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_client_sign_in_failures_updated_at"), ["updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("client_sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_sign_in_failures_updated_at"))
    op.drop_table("client_sign_in_failures")
    with op.batch_alter_table("sign_in_places", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_places_last_signed_in_at"))
    op.drop_table("sign_in_places")
    op.drop_table("sign_in_failures")
    op.create_table(
        "sign_in_failures",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        _staff_key("sign_in_failures"),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_sign_in_failures")),
    )
