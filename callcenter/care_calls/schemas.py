"""Shapes of care calls, their tries, the day's list by centre, the report and weather warnings."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kernel.bounds import AwareMoment, Day
from kernel.models import CareCallOutcome, CareCallReason, CareCallStatus, WeatherKind

NOTES_MAX_CHARS = 2_000


class CareCallRead(BaseModel):
    """A care call as the day's list shows it (the elder's phone masked)."""

    id: int
    elder_id: int
    elder_name: str
    phone: str | None = Field(description="The elder's own number, masked (138****4321)")
    community_code: str = Field(description="The elder's community centre, whose list it is on")
    caller_centre: str | None = Field(
        description="Who calls now: the community centre while someone is on duty there, else "
        "the street centre; None outside the calling hours"
    )
    due_on: dt.date
    overdue: bool = Field(description="Its day has passed and it is still to make")
    reasons: list[CareCallReason]
    status: CareCallStatus
    tries: int = Field(description="Tries recorded on it (unanswered, while it is still due)")
    last_called_at: dt.datetime | None
    closed_at: dt.datetime | None
    outcome: CareCallOutcome | None
    incident_id: int | None = Field(description="The welfare visit it raised, if any")


class CallNumber(BaseModel):
    """A number to ring for the call, whole: the elder's own, then their contacts in order."""

    whose: str = Field(description="elder, second (the elder's other number) or contact")
    name: str
    relation: str | None
    phone: str


class AttemptRead(BaseModel):
    """One try at the call."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    called_at: dt.datetime
    recorded_at: dt.datetime
    staff_id: int | None
    staff_name: str | None = None
    centre_code: str | None
    answered: bool
    outcome: CareCallOutcome | None
    notes: str
    follow_up_on: dt.date | None
    incident_id: int | None


class CareCallDetail(CareCallRead):
    """One call opened to make it: whom to ring (whole numbers; each opening is audited), who the
    elder is, and the tries so far."""

    numbers: list[CallNumber]
    age: int
    living_situation: str
    conditions: list[str]
    attempts: list[AttemptRead] = Field(description="Oldest first")
    unanswered_in_a_row: int = Field(
        description="The elder's unanswered tries since the last answered one (across calls)"
    )


class AttemptRequest(BaseModel):
    """A try at the call, as it went."""

    called_at: AwareMoment | None = Field(
        default=None, description="When it was made; now if unset"
    )
    answered: bool
    outcome: CareCallOutcome | None = Field(
        default=None, description="What the call found; required when answered, none when not"
    )
    notes: str = Field(default="", max_length=NOTES_MAX_CHARS)
    follow_up_on: Day | None = Field(
        default=None, description="Call again on this local day (after the day of this call)"
    )

    @model_validator(mode="after")
    def _outcome_with_an_answer(self) -> AttemptRequest:
        if self.answered and self.outcome is None:
            raise ValueError("an answered call needs its outcome")
        if not self.answered and self.outcome is not None:
            raise ValueError("an unanswered call has no outcome")
        self.notes = self.notes.strip()
        return self


class AttemptRecorded(BaseModel):
    """The call after the try, and what the try set going."""

    call: CareCallDetail
    incident_id: int | None = Field(description="The welfare visit or incident this try raised")


class CentreToday(BaseModel):
    """One community centre's calls today."""

    centre_code: str
    caller_centre: str | None = Field(description="Who calls its elders now (None: not now)")
    due: int = Field(description="Due today, still to make")
    overdue: int = Field(description="Due on an earlier day, still to make")
    done: int = Field(description="Answered today")
    not_reached: int = Field(description="Unanswered twice today: a welfare visit was sent")


class Today(BaseModel):
    """The day's list by centre."""

    day: dt.date
    street_centre: str = Field(
        description="The street centre's code (it calls when no community can)"
    )
    calling_hours: str
    calling_now: bool
    centres: list[CentreToday]


class CentreReport(BaseModel):
    """A centre's calls due in the period (by the elder's community; `all` for the street)."""

    centre_code: str
    due: int = Field(description="Calls due in the period (not dropped)")
    done: int = Field(description="Answered")
    done_late: int = Field(description="Answered after their day")
    not_reached: int = Field(description="Unanswered twice: a welfare visit was sent")
    overdue: int = Field(description="Still to make after their day")
    by_street: int = Field(description="Answered or given up on by the street centre")


class CareCallReport(BaseModel):
    """Care calls due from `since` to `until` (local days), by centre."""

    since: dt.date
    until: dt.date
    overall: CentreReport
    centres: list[CentreReport]


class WarningRequest(BaseModel):
    """An extreme-weather warning for a day (today unless given)."""

    kind: WeatherKind
    day: Day | None = Field(default=None, description="The local day; today if unset")
    note: str = Field(default="", max_length=500, examples=["深圳市气象台发布台风橙色预警"])


class WarningRead(BaseModel):
    """A recorded warning."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: WeatherKind
    day: dt.date
    recorded_at: dt.datetime
    recorded_by: str
    note: str


class WarningRecorded(BaseModel):
    """The warning, and how many calls its day's list holds for it now."""

    warning: WarningRead
    calls: int = Field(description="Calls owed for a weather warning on that day")
