"""maintenance work orders: at most one open per device and reason

The device checks open work orders of category `maintenance` for the installer (a flat
battery, a device offline, a panel's mains lost, a failed or overdue self-test), one open per
device and reason (`need`). A partial unique index holds to that when two call-centre
processes check at once; closed orders and service orders are outside it. No data changes:
nothing made maintenance orders before this revision.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_MAINTENANCE = sa.text(
    "category = 'maintenance' AND status IN ('new', 'accepted', 'scheduled')"
)


def upgrade() -> None:
    op.create_index(
        "uq_work_orders_open_maintenance", "work_orders", ["device_id", "need"], unique=True,
        sqlite_where=OPEN_MAINTENANCE, postgresql_where=OPEN_MAINTENANCE,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("uq_work_orders_open_maintenance", table_name="work_orders")
