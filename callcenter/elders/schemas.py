"""Elders as the operator API shows them: search results, the profile at a glance, changes."""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from devices.ids import DeviceKind
from devices.vitals import VITALS
from kernel.bounds import AwareMoment
from kernel.models import DeviceEvent, IncidentKind, IncidentStatus, LivingSituation, SelfCare, Sex

# The vitals a per-elder threshold may be set for (devices.vitals.VITALS, as a type for the API).
Vital = Literal["bp_sys", "bp_dia", "hr", "spo2", "glucose", "temp"]


class ElderSummary(BaseModel):
    """One elder in a search result: enough to tell people apart and call them."""

    id: int
    name: str
    sex: Sex
    age: int
    national_id: str = Field(description="Masked (only the last 4) unless supervisor or admin")
    community_code: str
    address: str
    phone: str | None = Field(
        description="Masked (138****4321) in search results; whole on a profile"
    )
    living_situation: LivingSituation


class ElderPage(BaseModel):
    """A page of search results and how many elders match in all."""

    total: int
    limit: int
    offset: int
    items: list[ElderSummary]


class ContactRead(BaseModel):
    """An emergency contact, in the register's order (1 first)."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="What the family SMS routes name the contact by")
    position: int
    name: str
    relation: str
    phone: str | None
    language: str


class DeviceRead(BaseModel):
    """A device in the elder's home and what the gateway last saw of it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: DeviceKind
    online: bool
    last_seen_at: dt.datetime | None
    battery: int | None
    rssi: int | None


class ThresholdRead(BaseModel):
    """The bounds in force for one vital, and the elder's own override if the care team set one."""

    vital: str = Field(description="bp_sys, bp_dia, hr, spo2, glucose or temp")
    warn_low: float | None
    warn_high: float | None
    critical_low: float | None
    critical_high: float | None
    overridden: bool = Field(description="False: the clinical defaults apply")
    reason: str | None = None
    set_by: str | None = None
    set_at: dt.datetime | None = None


class AwayRead(BaseModel):
    """A stretch when the elder is away: no welfare or wandering alarms meanwhile."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    starts_at: dt.datetime
    ends_at: dt.datetime | None = Field(description="None: until someone ends it")
    reason: str
    created_by: str


class OpenIncidentRead(BaseModel):
    """An open incident of this elder."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: IncidentKind
    priority: int
    status: IncidentStatus


class ElderProfile(ElderSummary):
    """Everything an operator needs at a glance when an elder calls."""

    birth_date: dt.date | None = Field(
        description="Whole for supervisors and admins; none for others (the age is given): with "
        "the last 4 of the ID number it would leave the whole number a few guesses away"
    )
    lat: float
    lon: float
    conditions: list[str]
    self_care: SelfCare
    remarks: str
    contacts: list[ContactRead]
    devices: list[DeviceRead]
    thresholds: list[ThresholdRead] = Field(description="All six vitals, overridden or not")
    away_periods: list[AwayRead] = Field(description="Newest first")
    open_incidents: list[OpenIncidentRead]


class VitalReadingRead(BaseModel):
    """One measurement, as a chart plots it."""

    measured_at: dt.datetime
    device_id: str
    bp_sys: int | None
    bp_dia: int | None
    hr: float | None
    spo2: float | None
    glucose: float | None
    temp: float | None

    @classmethod
    def of_event(cls, event: DeviceEvent) -> VitalReadingRead:
        """The reading a `vitals` event brought (a reading is stored once, as its event)."""
        return cls(
            measured_at=event.device_ts or event.received_at,
            device_id=event.device_id,
            **{vital: event.payload.get(vital) for vital in VITALS},
        )


class AwayRequest(BaseModel):
    """Mark the elder away from `starts_at` until `ends_at` (None: until someone ends it)."""

    starts_at: AwareMoment
    ends_at: AwareMoment | None = None
    reason: str = Field(min_length=1, max_length=255, examples=["住院 (in hospital)"])

    @model_validator(mode="after")
    def _ends_after_start(self) -> AwayRequest:
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ThresholdRequest(BaseModel):
    """The elder's own bounds for one vital; a bound left null keeps the clinical default."""

    warn_low: float | None = None
    warn_high: float | None = None
    critical_low: float | None = None
    critical_high: float | None = None
    reason: str = Field(min_length=1, max_length=1000, examples=["COPD: target SpO2 88-92 %"])

    @model_validator(mode="after")
    def _some_finite_bound(self) -> ThresholdRequest:
        bounds = (self.warn_low, self.warn_high, self.critical_low, self.critical_high)
        if all(bound is None for bound in bounds):
            raise ValueError("set at least one bound (DELETE the override to go back to defaults)")
        if any(bound is not None and not math.isfinite(bound) for bound in bounds):
            raise ValueError("bounds must be finite numbers")
        return self
