"""vital baselines: per-elder vital baselines and trend notices

Each elder's own baseline of each vital (`vital_baselines`), the trends drifting outside it
while they last (`vital_trends`), and the incident kind `trend` they open (the kinds' CHECK on
`incidents.kind` takes the new value). Downgrading deletes the trend incidents (their steps
go with them) before the CHECK is narrowed again.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 20:40:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sa.DateTime(timezone=True)
KIND_CHECK = "ck_incidents_incidentkind"
TREND = "trend"
DIRECTION = sa.Enum(
    "high", "low", "silent", name="trenddirection", native_enum=False, create_constraint=True,
    length=8,
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "vital_baselines",
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("vital", sa.String(length=16), nullable=False),
        sa.Column("median", sa.Double(), nullable=False),
        sa.Column("spread", sa.Double(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("window_ends_on", sa.Date(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["elder_id"],
            ["elders.id"],
            name=op.f("fk_vital_baselines_elder_id_elders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("elder_id", "vital", name=op.f("pk_vital_baselines")),
    )
    op.create_table(
        "vital_trends",
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("direction", DIRECTION, nullable=False),
        sa.Column("since", UTC, nullable=False),
        sa.Column("reference", sa.Double(), nullable=False),
        sa.Column("band", sa.Double(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["elder_id"],
            ["elders.id"],
            name=op.f("fk_vital_trends_elder_id_elders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_vital_trends_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("elder_id", "subject", name=op.f("pk_vital_trends")),
    )
    op.create_index(op.f("ix_vital_trends_incident_id"), "vital_trends", ["incident_id"])
    kinds = _incident_kinds()
    if TREND not in kinds:
        _set_incident_kinds([*kinds, TREND])


def downgrade() -> None:
    op.drop_index(op.f("ix_vital_trends_incident_id"), table_name="vital_trends")
    op.drop_table("vital_trends")
    op.drop_table("vital_baselines")
    op.execute(sa.text("DELETE FROM incidents WHERE kind = :kind").bindparams(kind=TREND))
    _set_incident_kinds([kind for kind in _incident_kinds() if kind != TREND])


def _incident_kinds() -> list[str]:
    """The kinds the CHECK on `incidents.kind` allows now (other revisions may have added some)."""
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        definition = connection.scalar(
            sa.text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conname = :name AND conrelid = 'incidents'::regclass"
            ).bindparams(name=KIND_CHECK)
        )
    else:
        definition = _sqlite_kind_check(_sqlite_table_sql())
    return re.findall(r"'([a-z_]+)'", definition or "")


def _set_incident_kinds(kinds: list[str]) -> None:
    condition = "kind IN ({})".format(", ".join(f"'{kind}'" for kind in kinds))
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.drop_constraint(op.f(KIND_CHECK), "incidents", type_="check")
        op.create_check_constraint(op.f(KIND_CHECK), "incidents", condition)
        return
    # SQLite has no ALTER for a CHECK, and rebuilding `incidents` (Alembic's batch mode) would,
    # with foreign keys on, delete every timeline step and notice by cascade when the old table
    # is dropped. Widening or narrowing an IN list changes no stored row, so the table's
    # definition is rewritten in place, as SQLite documents for changes that leave the data as
    # it is (lang_altertable.html, "Making Other Kinds Of Table Schema Changes"): the schema
    # version is bumped so that every connection reads the new definition.
    table_sql = _sqlite_table_sql()
    old = _sqlite_kind_check(table_sql)
    version = connection.scalar(sa.text("PRAGMA schema_version"))
    connection.execute(sa.text("PRAGMA writable_schema = ON"))
    connection.execute(
        sa.text(
            "UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'incidents'"
        ).bindparams(sql=table_sql.replace(old, condition, 1))
    )
    connection.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    connection.execute(sa.text("PRAGMA writable_schema = OFF"))
    problems = connection.scalars(sa.text("PRAGMA integrity_check")).all()
    if problems != ["ok"]:
        raise RuntimeError(f"incidents after widening its kinds: {problems}")


def _sqlite_table_sql() -> str:
    return str(
        op.get_bind().scalar(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'incidents'")
        )
    )


def _sqlite_kind_check(table_sql: str) -> str:
    """The condition of the kinds' CHECK in the table's definition: `kind IN ('sos', ...)`."""
    found = re.search(rf"CONSTRAINT {KIND_CHECK} CHECK \((kind IN \([^)]*\))\)", table_sql)
    if found is None:
        raise RuntimeError(f"no {KIND_CHECK} in the definition of incidents: {table_sql}")
    return found.group(1)
