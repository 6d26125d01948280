"""Proactive care calls (主动关怀): the calls owed to elders by risk, each try at one, and the
extreme-weather warnings that add calls for a day (callcenter/care_calls)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models.base import Base, BigId, utcnow
from kernel.models.enums import string_enum


class CareCallStatus(enum.StrEnum):
    """Where a care call stands."""

    DUE = "due"  # to make (overdue once its day has passed)
    DONE = "done"  # the elder (or someone at their number) answered
    NOT_REACHED = "not_reached"  # unanswered twice in a row: a welfare visit was sent instead
    DROPPED = "dropped"  # the elder died, moved away or is away: nobody is called


class CareCallReason(enum.StrEnum):
    """Why a call is owed (callcenter/care_calls/service.py has the rules)."""

    LIVING_ALONE = "living_alone"
    DEMENTIA = "dementia"
    AFTER_HOSPITAL = "after_hospital"
    AFTER_INCIDENT = "after_incident"
    WEATHER = "weather"
    FOLLOW_UP = "follow_up"


class CareCallOutcome(enum.StrEnum):
    """What an answered call found."""

    FINE = "fine"
    UNWELL = "unwell"  # raises a welfare incident at P2: a visit today
    NEEDS_VISIT = "needs_visit"  # raises a welfare incident at P3
    NEEDS_SERVICE = "needs_service"  # a meal, housework, a repair: the centre arranges it
    OTHER = "other"  # said in the notes


class WeatherKind(enum.StrEnum):
    """An extreme-weather warning the supervisor records."""

    TYPHOON = "typhoon"
    HEAT = "heat"
    COLD = "cold"


# An elder has at most one call open at a time: a reason found while one is open is added to
# it. The index keeps it so when two call-centre processes make the day's list at once.
OPEN_CALL = text("status = 'due'")


class CareCall(Base):
    """A call owed to an elder from a local day on, until it is answered, turned into a welfare
    visit, or dropped."""

    __tablename__ = "care_calls"
    __table_args__ = (
        Index(
            "uq_care_calls_open_per_elder",
            "elder_id",
            unique=True,
            sqlite_where=OPEN_CALL,
            postgresql_where=OPEN_CALL,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    # The elder's community centre, whose list it is on (the street centre calls when it cannot).
    community_code: Mapped[str] = mapped_column(ForeignKey("centres.code"), index=True)
    due_on: Mapped[dt.date] = mapped_column(index=True)  # the street's local day
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)  # CareCallReason values
    status: Mapped[CareCallStatus] = mapped_column(
        string_enum(CareCallStatus, 16), default=CareCallStatus.DUE, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]
    closed_on: Mapped[dt.date | None]  # the local day it was closed (done late: after due_on)
    # The centre of the person who answered or gave up on it (the street centre or the community).
    closed_by_centre: Mapped[str | None] = mapped_column(String(8))
    outcome: Mapped[str | None] = mapped_column(String(16))  # CareCallOutcome of the answer
    dropped_reason: Mapped[str | None] = mapped_column(String(16))  # deceased, moved_away, away
    # The welfare visit the call raised (not reached twice, unwell, needs a visit).
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))


class CareCallAttempt(Base):
    """One try at a call, as the person who made it recorded it."""

    __tablename__ = "care_call_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(
        ForeignKey("care_calls.id", ondelete="CASCADE"), index=True
    )
    # The elder's own (the unanswered tries in a row are counted across their calls).
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    called_at: Mapped[dt.datetime]
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    centre_code: Mapped[str | None] = mapped_column(String(8))  # the caller's centre
    answered: Mapped[bool]
    outcome: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str] = mapped_column(Text, default="")
    # Call again on this local day (a follow-up call is owed then).
    follow_up_on: Mapped[dt.date | None]
    # The incident this try raised: a welfare visit (second unanswered try, unwell, a visit asked).
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))


class WeatherWarning(Base):
    """A typhoon, heat or cold warning for a local day, recorded by a supervisor: everyone aged
    80 and over living alone is owed a call that day."""

    __tablename__ = "weather_warnings"
    __table_args__ = (UniqueConstraint("kind", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[WeatherKind] = mapped_column(string_enum(WeatherKind, 8))
    day: Mapped[dt.date] = mapped_column(index=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
