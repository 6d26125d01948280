"""Rosters as the operator API shows and changes them."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field, model_validator

from kernel.bounds import AwareMoment, Id
from kernel.models import AbsenceReason, StaffRole

# Longer than a day is a typing slip (a wrong date), not a shift anyone works.
LONGEST_SHIFT = dt.timedelta(hours=24)


class ShiftRead(BaseModel):
    """One stretch of duty and who works it."""

    id: int
    staff_id: int
    staff_name: str
    role: StaffRole
    centre_code: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    absence: AbsenceReason | None = Field(
        default=None, description="Marked absent from this shift (sick, leave, other): not on duty"
    )


class AbsenceRequest(BaseModel):
    """A rostered person will not work this shift, and why."""

    reason: AbsenceReason = Field(examples=["sick"])


class ShiftRequest(BaseModel):
    """A shift to add: who, at which centre, from when until when (with a time zone)."""

    staff_id: Id
    centre_code: str = Field(min_length=1, max_length=8, examples=["PH03"])
    starts_at: AwareMoment
    ends_at: AwareMoment

    @model_validator(mode="after")
    def _sensible_window(self) -> ShiftRequest:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.ends_at - self.starts_at > LONGEST_SHIFT:
            raise ValueError("a shift lasts at most 24 hours")
        return self
