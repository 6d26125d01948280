"""life status: an elder deceased or moved away, who recorded it, and when the data went

An elder marked deceased or moved away raises no alarm from then on; three years after
(`privacy_retention_days`) their personal data is anonymised and `anonymised_at` says when.
Every elder already registered is active.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIFE_STATUS = sa.Enum(
    "active",
    "deceased",
    "moved_away",
    name="lifestatus",
    native_enum=False,
    length=16,
    create_constraint=True,
)


# Columns added in place, never by rebuilding the table (Alembic's batch mode on SQLite): with
# foreign keys on, dropping the old `elders` table would delete every elder's contacts,
# thresholds and away periods by cascade and unbind their devices and incidents. SQLite keeps
# a column's own CHECK through ADD COLUMN and DROP COLUMN (3.35 and newer).
COLUMNS = (
    ("life_status", LIFE_STATUS),
    ("life_status_on", sa.Date()),
    ("life_status_recorded_at", sa.DateTime(timezone=True)),
    ("life_status_recorded_by", sa.String(length=64)),
    ("anonymised_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(
            "elders",
            sa.Column("life_status", LIFE_STATUS, server_default="active", nullable=False),
        )
    else:  # Alembic leaves an added column's CHECK out on SQLite: written out here
        op.execute(
            "ALTER TABLE elders ADD COLUMN life_status VARCHAR(16) DEFAULT 'active' NOT NULL "
            "CONSTRAINT ck_elders_lifestatus "
            "CHECK (life_status IN ('active', 'deceased', 'moved_away'))"
        )
    for name, type_ in COLUMNS[1:]:
        op.add_column("elders", sa.Column(name, type_, nullable=True))
    op.create_index(op.f("ix_elders_life_status"), "elders", ["life_status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_elders_life_status"), table_name="elders")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_elders_lifestatus"), "elders", type_="check")
    for name, _type in reversed(COLUMNS):
        op.drop_column("elders", name)
