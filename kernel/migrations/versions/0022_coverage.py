"""coverage: absences from shifts, each community's walking reach, notices of gaps

A rostered shift its person will not work (`shift_absences`), each community's walking reach
from its centre worked out once a local day (`coverage_reach`), and the gaps told to the
supervisors ahead of them (`coverage_notices`).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sa.DateTime(timezone=True)
REASON = sa.Enum(
    "sick", "leave", "other", name="absencereason", native_enum=False, create_constraint=True,
    length=8,
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "shift_absences",
        sa.Column("shift_id", sa.Integer(), nullable=False),
        sa.Column("reason", REASON, nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["shift_id"],
            ["shifts.id"],
            name=op.f("fk_shift_absences_shift_id_shifts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shift_id", name=op.f("pk_shift_absences")),
    )
    op.create_table(
        "coverage_reach",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("community_code", sa.String(length=8), nullable=False),
        sa.Column("target_min", sa.Integer(), nullable=False),
        sa.Column("elders", sa.Integer(), nullable=False),
        sa.Column("p50_min", sa.Double(), nullable=True),
        sa.Column("p90_min", sa.Double(), nullable=True),
        sa.Column("max_min", sa.Double(), nullable=True),
        sa.Column("beyond_target", sa.Integer(), nullable=False),
        sa.Column("computed_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["centres.code"],
            name=op.f("fk_coverage_reach_community_code_centres"),
        ),
        sa.PrimaryKeyConstraint("day", "community_code", name=op.f("pk_coverage_reach")),
    )
    op.create_table(
        "coverage_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("centre_code", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts_at", UTC, nullable=False),
        sa.Column("ends_at", UTC, nullable=False),
        sa.Column("absent", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_code"],
            ["centres.code"],
            name=op.f("fk_coverage_notices_centre_code_centres"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_notices")),
        sa.UniqueConstraint(
            "centre_code",
            "kind",
            "starts_at",
            "ends_at",
            name=op.f("uq_coverage_notices_centre_code"),
        ),
    )
    op.create_index(op.f("ix_coverage_notices_day"), "coverage_notices", ["day"])


def downgrade() -> None:
    op.drop_index(op.f("ix_coverage_notices_day"), table_name="coverage_notices")
    op.drop_table("coverage_notices")
    op.drop_table("coverage_reach")
    op.drop_table("shift_absences")
