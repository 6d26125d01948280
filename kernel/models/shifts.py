"""Hand-over between shifts: notes one shift leaves a centre's next, and who has read each."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models.base import Base, utcnow


class HandoverNote(Base):
    """A note to a centre's next shift ("the lift at 3 号楼 is out", "call 王阿姨 back at 9").

    Kept as written, never edited nor deleted, so that what was handed over can be looked up;
    only anonymising an elder blanks the text of notes that name them (callcenter/privacy).
    """

    __tablename__ = "handover_notes"
    __table_args__ = (Index("ix_handover_notes_centre_written", "centre_code", "written_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The centre whose next shift it is for: the street centre's, or a community centre's.
    centre_code: Mapped[str] = mapped_column(ForeignKey("centres.code"))
    author_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    text: Mapped[str] = mapped_column(Text)
    written_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HandoverNoteRead(Base):
    """One person of a later shift has read a note (each reader marks it for themselves)."""

    __tablename__ = "handover_note_reads"

    note_id: Mapped[int] = mapped_column(ForeignKey("handover_notes.id"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True, index=True)
    read_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
