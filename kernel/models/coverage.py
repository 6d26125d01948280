"""Coverage of the street by its rostered staff (callcenter/coverage): a worker marked absent
for a shift, each community's walking reach from its centre worked out once a day, and the
notices of gaps given to the supervisors ahead of them."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models.base import Base, utcnow
from kernel.models.enums import string_enum


class AbsenceReason(enum.StrEnum):
    """Why a rostered person will not work their shift."""

    SICK = "sick"  # signed out sick (病假)
    LEAVE = "leave"  # personal or annual leave (事假、年假)
    OTHER = "other"


class ShiftAbsence(Base):
    """A rostered shift its person will not work: the shift stays on the roster (what was
    planned), the person is not on duty in it (routing, escalation and coverage skip it)."""

    __tablename__ = "shift_absences"

    shift_id: Mapped[int] = mapped_column(
        ForeignKey("shifts.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[AbsenceReason] = mapped_column(string_enum(AbsenceReason, 8))
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CoverageReach(Base):
    """How far a community's elders live from its centre on foot, worked out once a local day
    from their homes' coordinates and counted against the on-site target of that time."""

    __tablename__ = "coverage_reach"

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    community_code: Mapped[str] = mapped_column(ForeignKey("centres.code"), primary_key=True)
    target_min: Mapped[int]
    elders: Mapped[int]
    p50_min: Mapped[float | None]
    p90_min: Mapped[float | None]
    max_min: Mapped[float | None]
    beyond_target: Mapped[int]
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CoverageNotice(Base):
    """A gap told to the supervisors before it starts: a centre with nobody on duty in its open
    hours, by the roster (`unrostered`) or because the rostered are absent (`absent`). One per
    gap as found; a gap that changes (someone else signs out) is a new notice."""

    __tablename__ = "coverage_notices"
    __table_args__ = (UniqueConstraint("centre_code", "kind", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_code: Mapped[str] = mapped_column(ForeignKey("centres.code"))
    kind: Mapped[str] = mapped_column(String(16))
    day: Mapped[dt.date] = mapped_column(index=True)  # the gap's local day
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    # Who is absent (names), for a notice of kind `absent`.
    absent: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The supervisor who saw to it (their name; the audit log keeps their account) and when: the first acknowledgement is
    # kept, and a notice acknowledged no longer calls for anyone's attention.
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[dt.datetime | None]
