"""shift handover: shift hand-over notes

Notes one shift leaves a centre's next shift, kept as written, and who of a later shift has read
each one.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "handover_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("centre_code", sa.String(length=8), nullable=False),
        sa.Column("author_staff_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_staff_id"],
            ["staff.id"],
            name=op.f("fk_handover_notes_author_staff_id_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["centre_code"],
            ["centres.code"],
            name=op.f("fk_handover_notes_centre_code_centres"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover_notes")),
    )
    with op.batch_alter_table("handover_notes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_handover_notes_centre_written", ["centre_code", "written_at"], unique=False
        )
    op.create_table(
        "handover_note_reads",
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["handover_notes.id"],
            name=op.f("fk_handover_note_reads_note_id_handover_notes"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_handover_note_reads_staff_id_staff"),
        ),
        sa.PrimaryKeyConstraint("note_id", "staff_id", name=op.f("pk_handover_note_reads")),
    )
    with op.batch_alter_table("handover_note_reads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handover_note_reads_staff_id"), ["staff_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("handover_note_reads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handover_note_reads_staff_id"))
    op.drop_table("handover_note_reads")
    with op.batch_alter_table("handover_notes", schema=None) as batch_op:
        batch_op.drop_index("ix_handover_notes_centre_written")
    op.drop_table("handover_notes")
