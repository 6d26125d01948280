"""revisions of incidents and work orders: a number every change raises, in commit order

The live feeds send an incident's or an order's whole state after every change; two changes
committed close together can reach a page in the other order. `revision` is raised in the same
statement that reads the committed row back before each commit (kernel/revisions.py), so a page
keeps the highest and drops a state older than one it has shown.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = ("incidents", "work_orders")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table, sa.Column("revision", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    # Plain ALTER TABLE on SQLite too: a batch copy of incidents would rewrite its foreign keys
    # so that 0013's downgrade could no longer drop merged_into_id.
    for table in TABLES:
        op.drop_column(table, "revision")
