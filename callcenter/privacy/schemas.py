"""What the privacy routes take and answer: a life status, an elder's whole record exported."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from callcenter.incidents.schemas import TimelineEntryRead
from devices.ids import DeviceKind
from kernel.models import IncidentKind, IncidentStatus, LivingSituation, SelfCare, Sex
from kernel.models.elders import LifeStatus


class LifeStatusRequest(BaseModel):
    """The elder died or moved away on `on` (or is, after a mistake, active again)."""

    status: LifeStatus
    on: dt.date | None = Field(
        default=None,
        description="The day of death or of moving away (required for those; none for active). "
        "The retention period runs from the later of this day and the day it is recorded.",
    )

    @model_validator(mode="after")
    def _day_when_leaving(self) -> LifeStatusRequest:
        if self.status is LifeStatus.ACTIVE and self.on is not None:
            raise ValueError("an active elder has no day of leaving: leave `on` out")
        if self.status is not LifeStatus.ACTIVE and self.on is None:
            raise ValueError(f"{self.status.value}: say on which day (`on`)")
        return self


class LifeStatusRead(BaseModel):
    """An elder's life status, and what recording it did."""

    elder_id: int
    status: LifeStatus
    on: dt.date | None
    recorded_at: dt.datetime | None
    recorded_by: str | None
    anonymise_on: dt.date | None = Field(
        description="When the retention period ends and the personal data is anonymised "
        "(none while active)"
    )
    anonymised_at: dt.datetime | None
    closed_incidents: list[int] = Field(
        default=[], description="Open incidents closed by this change"
    )
    unbound_devices: list[str] = Field(
        default=[],
        description="Devices unbound by this change; an elder made active again gets them back "
        "through the register import or a new binding",
    )
    skipped_messages: int = Field(default=0, description="Family SMS waiting that will not go")


class DepartedElderRead(BaseModel):
    """An elder marked deceased or moved away, as the privacy register lists them."""

    id: int
    name: str
    community_code: str
    status: LifeStatus
    on: dt.date | None
    recorded_at: dt.datetime | None
    recorded_by: str | None
    anonymise_on: dt.date | None
    anonymised_at: dt.datetime | None


class ExportedElder(BaseModel):
    """The register's record of the elder, whole."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    national_id: str
    name: str
    sex: Sex
    birth_date: dt.date
    community_code: str
    address: str
    lat: float
    lon: float
    phone: str | None
    living_situation: LivingSituation
    conditions: list[str]
    self_care: SelfCare
    remarks: str
    second_phone: str | None
    key_holder_name: str | None
    key_holder_relation: str | None
    key_holder_phone: str | None
    access_notes: str
    # The codes themselves are not exported (they open the door, they are not about the
    # elder); that they are held is.
    key_safe_code_held: bool
    door_code_held: bool
    medications: list[dict[str, str]]
    allergies: list[str]
    doctor_name: str | None
    doctor_phone: str | None
    doctor_clinic: str | None
    preferred_hospital: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    life_status: LifeStatus
    life_status_on: dt.date | None
    life_status_recorded_at: dt.datetime | None
    life_status_recorded_by: str | None
    anonymised_at: dt.datetime | None


class ExportedContact(BaseModel):
    """An emergency contact (the elder's own data here: the number whole)."""

    model_config = ConfigDict(from_attributes=True)

    position: int
    name: str
    relation: str
    phone: str | None
    language: str


class ExportedDevice(BaseModel):
    """A device in the elder's home, without its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: DeviceKind
    registered_at: dt.datetime
    online: bool
    last_seen_at: dt.datetime | None
    last_activity_at: dt.datetime | None
    battery: int | None
    rssi: int | None
    firmware: str | None


class ExportedAway(BaseModel):
    """A stretch when the elder was marked away."""

    model_config = ConfigDict(from_attributes=True)

    starts_at: dt.datetime
    ends_at: dt.datetime | None
    reason: str
    created_by: str


class ExportedThreshold(BaseModel):
    """The elder's own bounds for one vital, set by the care team."""

    model_config = ConfigDict(from_attributes=True)

    vital: str
    warn_low: float | None
    warn_high: float | None
    critical_low: float | None
    critical_high: float | None
    reason: str
    set_by: str
    set_at: dt.datetime


class ExportedIncident(BaseModel):
    """An incident about the elder, with its whole timeline."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: IncidentKind
    priority: int
    status: IncidentStatus
    device_id: str | None
    centre_code: str
    assigned_staff_id: int | None
    routing: str
    cancelled_by_elder: bool
    opened_at: dt.datetime
    acknowledged_at: dt.datetime | None
    resolved_at: dt.datetime | None
    outcome: str | None
    timeline: list[TimelineEntryRead] = []


class ExportedEvent(BaseModel):
    """A message one of the elder's devices sent (a `vitals` event is a reading)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    device_id: str
    message_id: str
    type: str
    device_ts: dt.datetime | None
    received_at: dt.datetime
    transport: str
    payload: dict[str, Any]


class ExportedMessage(BaseModel):
    """An SMS to the elder's family about one of their incidents."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: int
    step: str
    contact_name: str
    relation: str
    phone: str
    language: str
    body: str | None
    state: str
    delivery_status: str | None
    created_by: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


class ExportedAuditEntry(BaseModel):
    """Who viewed or changed the elder's record or incidents, and when."""

    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    detail: dict[str, Any]


class ElderExport(BaseModel):
    """Everything the system holds about one elder (PIPL arts. 45 and 47: access, copy,
    portability), in one document."""

    exported_at: dt.datetime
    exported_by: str
    elder: ExportedElder
    contacts: list[ExportedContact]
    devices: list[ExportedDevice] = Field(description="Bound now; secrets left out")
    away_periods: list[ExportedAway]
    thresholds: list[ExportedThreshold]
    incidents: list[ExportedIncident]
    device_events: list[ExportedEvent] = Field(
        description="Every message their devices sent while bound to them, readings included"
    )
    sms: list[ExportedMessage]
    family_replies: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The family's SMS replies about the elder's incidents or from their contacts",
    )
    care_calls: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Proactive care calls, each with its tries (`attempts`: who called, notes)",
    )
    work_orders: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Work orders (service requests, maintenance), each with its steps (`steps`)",
    )
    audit: list[ExportedAuditEntry] = Field(
        description="The audit log's entries about the elder and their incidents"
    )
