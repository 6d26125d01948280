"""linked incidents: an incident that joins or is merged into another, its call-back task

An incident an operator merged into another points to it (`merged_into_id`); an alarm the elder
cancelled in time is a call-back task with its own deadline (`callback_due_at`), done when
`called_back_at` is set, with what the call found (`callback_result`). Links between incidents
and alarms joining an open case are timeline steps, with no table of their own. Every incident
already recorded starts with none of these.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MERGED_INTO_FK = "fk_incidents_merged_into_id_incidents"
UTC = sa.DateTime(timezone=True)


# Added in place, never by rebuilding the table (Alembic's batch mode on SQLite): with foreign
# keys on, dropping the old `incidents` table would delete every timeline step and device notice
# by cascade. SQLite takes a column's REFERENCES in ADD COLUMN, not a constraint added apart.
def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("incidents", sa.Column("merged_into_id", sa.Integer(), nullable=True))
        op.create_foreign_key(MERGED_INTO_FK, "incidents", "incidents", ["merged_into_id"], ["id"])
    else:
        op.execute(
            "ALTER TABLE incidents ADD COLUMN merged_into_id INTEGER "
            f"CONSTRAINT {MERGED_INTO_FK} REFERENCES incidents (id)"
        )
    op.add_column("incidents", sa.Column("callback_due_at", UTC, nullable=True))
    op.add_column("incidents", sa.Column("called_back_at", UTC, nullable=True))
    op.add_column("incidents", sa.Column("callback_result", sa.String(length=24), nullable=True))
    op.create_index(op.f("ix_incidents_callback_due_at"), "incidents", ["callback_due_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_incidents_callback_due_at"), table_name="incidents")
    for name in ("callback_result", "called_back_at", "callback_due_at"):
        op.drop_column("incidents", name)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(MERGED_INTO_FK, "incidents", type_="foreignkey")
    op.drop_column("incidents", "merged_into_id")
