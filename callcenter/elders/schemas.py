"""Elders as the operator API shows them: search results, the profile at a glance, changes."""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callcenter.register.normalise import normalise_mobile, normalise_phone
from devices.ids import DeviceKind
from devices.vitals import VITALS
from kernel.bounds import AwareMoment
from kernel.models import (
    CareCallOutcome,
    CareCallReason,
    CareCallStatus,
    DeviceEvent,
    IncidentKind,
    IncidentStatus,
    LivingSituation,
    MaintenanceReason,
    MaintenanceResult,
    ProviderKind,
    SelfCare,
    Sex,
    WorkOrderStatus,
)
from kernel.models.elders import LifeStatus

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


# What a person may change on an elder's page (the console shows only these forms).
ElderEdit = Literal[
    "contacts", "home_access", "access_codes", "medical", "away", "thresholds", "life_status"
]


class HomeAccessRead(BaseModel):
    """How to get in: who holds a key; whether codes are kept (the codes are shown on request)."""

    key_holder_name: str | None
    key_holder_relation: str | None
    key_holder_phone: str | None
    has_key_safe_code: bool
    has_door_code: bool
    notes: str


class Medication(BaseModel):
    """One medicine the elder takes, as the family or the doctor gave it."""

    name: str = Field(min_length=1, max_length=64, examples=["氨氯地平"])
    dose: str = Field(default="", max_length=64, examples=["5mg 每日一次"])


class MedicalRead(BaseModel):
    """What paramedics and a doctor ask first."""

    medications: list[Medication]
    allergies: list[str]
    doctor_name: str | None = Field(description="The family doctor or the 社康 doctor")
    doctor_phone: str | None
    doctor_clinic: str | None
    preferred_hospital: str | None


class ElderProfile(ElderSummary):
    """Everything an operator needs at a glance when an elder calls."""

    version: int = Field(description="Send it back with an edit: a stale one is refused (409)")
    life_status: LifeStatus
    second_phone: str | None
    home_access: HomeAccessRead
    medical: MedicalRead
    may_edit: list[ElderEdit] = Field(description="What this person may change here")

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
    version: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="The elder's version the change is based on (the console sends it); a stale "
        "one is refused (409)",
    )

    @model_validator(mode="after")
    def _some_finite_bound(self) -> ThresholdRequest:
        bounds = (self.warn_low, self.warn_high, self.critical_low, self.critical_high)
        if all(bound is None for bound in bounds):
            raise ValueError("set at least one bound (DELETE the override to go back to defaults)")
        if any(bound is not None and not math.isfinite(bound) for bound in bounds):
            raise ValueError("bounds must be finite numbers")
        return self


def _mobile(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    number = normalise_mobile(value)
    if number is None:
        raise ValueError("not an 11-digit mobile number")
    return number


def _phone(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    number = normalise_phone(value)
    if number is None:
        raise ValueError("not a phone number (a mobile, or a landline such as 0755 2891 2345)")
    return number


def _words(value: str | None) -> str | None:
    """Text with outer white space removed; None when nothing is left."""
    return value.strip() or None if value is not None else None


class EditRequest(BaseModel):
    """An edit of an elder: `version` is the one the editor read (the profile's)."""

    version: int = Field(ge=1, le=2**31 - 1, description="The elder's version the edit is based on")


class PhonesRequest(EditRequest):
    """The elder's own numbers (either may be a mobile or a landline; null: none)."""

    phone: str | None = Field(default=None, max_length=32, examples=["13800138000"])
    second_phone: str | None = Field(default=None, max_length=32, examples=["0755 2891 2345"])

    _numbers = field_validator("phone", "second_phone")(_phone)


class PhonesRead(BaseModel):
    """The elder's numbers after an edit."""

    version: int
    phone: str | None
    second_phone: str | None


class ContactEdit(BaseModel):
    """An emergency contact as it should be; `id` keeps an existing one (its SMS history)."""

    id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="None: a new contact")
    name: str = Field(min_length=1, max_length=64)
    relation: str = Field(min_length=1, max_length=32, examples=["儿子"])
    phone: str | None = Field(max_length=32, description="A mobile (family SMS go there)")
    language: Literal["zh", "en"] = "zh"

    _number = field_validator("phone")(_mobile)
    _text = field_validator("name", "relation")(lambda value: value.strip())


class ContactsRequest(EditRequest):
    """Every emergency contact in the order to call them (the first first); one left out goes."""

    contacts: list[ContactEdit] = Field(max_length=10)

    @model_validator(mode="after")
    def _each_once(self) -> ContactsRequest:
        ids = [c.id for c in self.contacts if c.id is not None]
        if len(ids) != len(set(ids)):
            raise ValueError("a contact is listed twice")
        if any(not c.name or not c.relation for c in self.contacts):
            raise ValueError("a contact needs a name and a relation")
        return self


class ContactsRead(BaseModel):
    """The contacts after an edit, in order."""

    version: int
    contacts: list[ContactRead]


class HomeAccessRequest(EditRequest):
    """How to get in. A code left out of the request stays as it is; null or "" removes it."""

    key_holder_name: str | None = Field(default=None, max_length=64)
    key_holder_relation: str | None = Field(default=None, max_length=32, examples=["邻居"])
    key_holder_phone: str | None = Field(default=None, max_length=32)
    key_safe_code: str | None = Field(default=None, max_length=32, examples=["4821"])
    door_code: str | None = Field(default=None, max_length=32)
    notes: str = Field(default="", max_length=1000, examples=["钥匙在对门302邻居处"])

    _number = field_validator("key_holder_phone")(_phone)
    _text = field_validator("key_holder_name", "key_holder_relation")(_words)
    _codes = field_validator("key_safe_code", "door_code")(_words)


class HomeAccessEdited(BaseModel):
    """How to get in after an edit (the codes still only on request)."""

    version: int
    home_access: HomeAccessRead


class AccessCodesRead(BaseModel):
    """The codes to get in, shown on request; each showing is in the audit log."""

    key_safe_code: str | None
    door_code: str | None


class MedicalRequest(EditRequest):
    """Medications, allergies, the doctor and the preferred hospital, as they should be."""

    medications: list[Medication] = Field(default_factory=list, max_length=30)
    allergies: list[str] = Field(default_factory=list, max_length=30, examples=[["青霉素"]])
    doctor_name: str | None = Field(default=None, max_length=64)
    doctor_phone: str | None = Field(default=None, max_length=32)
    doctor_clinic: str | None = Field(default=None, max_length=128, examples=["禾花社康中心"])
    preferred_hospital: str | None = Field(
        default=None, max_length=128, examples=["深圳市龙岗区第二人民医院"]
    )

    _number = field_validator("doctor_phone")(_phone)
    _text = field_validator("doctor_name", "doctor_clinic", "preferred_hospital")(_words)

    @field_validator("allergies")
    @classmethod
    def _allergies(cls, value: list[str]) -> list[str]:
        kept = [item.strip() for item in value if item.strip()]
        if any(len(item) > 64 for item in kept):
            raise ValueError("an allergy is at most 64 characters")
        return list(dict.fromkeys(kept))


class MedicalEdited(BaseModel):
    """The medical facts after an edit."""

    version: int
    medical: MedicalRead


class ElderWorkOrderRead(BaseModel):
    """One of the elder's service requests (the green key, a phone call), as their page lists it."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="Its page: /console/work-orders/{id}")
    status: WorkOrderStatus
    need: str | None = Field(description="meal, housework, repair, chat or other; None: not said")
    request: str = Field(description="What was asked, in words")
    centre_code: str
    created_at: dt.datetime
    appointment_at: dt.datetime | None
    closed_at: dt.datetime | None
    late: bool = Field(description="A deadline of it was missed")
    provider_kind: ProviderKind | None
    provider_name: str | None


class ElderMaintenanceRead(BaseModel):
    """One of the installer's orders for a device in the elder's home."""

    id: int
    status: WorkOrderStatus
    reason: MaintenanceReason | None
    device_id: str | None
    device_kind: DeviceKind | None
    created_at: dt.datetime
    closed_at: dt.datetime | None
    result: MaintenanceResult | None = Field(description="What was done, when closed by hand")


class ElderCareCallRead(BaseModel):
    """One care call owed to the elder, and how it went."""

    id: int
    community_code: str
    due_on: dt.date
    reasons: list[CareCallReason]
    status: CareCallStatus
    tries: int
    closed_at: dt.datetime | None
    outcome: CareCallOutcome | None
    dropped_reason: str | None = Field(description="deceased, moved_away or away (dropped)")
    incident_id: int | None = Field(description="The welfare visit it raised, if any")


class ElderOrdersAndCalls(BaseModel):
    """The elder's work orders and care calls, newest first. A list is None when this person may
    not see that kind at the elder's centre (a community worker at another centre's door; the
    installer's orders are the street's)."""

    work_orders: list[ElderWorkOrderRead] | None
    maintenance_orders: list[ElderMaintenanceRead] | None
    care_calls: list[ElderCareCallRead] | None
