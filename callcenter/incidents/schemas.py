"""Incidents as the API shows them."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kernel.bounds import AwareMoment, Id
from kernel.models import IncidentKind, IncidentStatus, Outcome
from kernel.models.incidents import CallbackResult


class TimelineEntryRead(BaseModel):
    """One step of an incident's timeline."""

    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    actor: str
    action: str
    detail: dict[str, Any]


class IncidentRead(BaseModel):
    """An incident: what, how urgent, where it is in its life, who holds it, and why them."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: IncidentKind
    priority: int = Field(
        description="1 life-threatening, 2 urgent, 3 welfare/service, 4 technical"
    )
    status: IncidentStatus
    elder_id: int | None = Field(description="None: an unidentified caller")
    elder_name: str | None = None
    device_id: str | None
    centre_code: str
    assigned_staff_id: int | None
    supervisor_staff_id: int | None
    routing: str
    cancelled_by_elder: bool
    escalation_level: int
    opened_at: dt.datetime
    ack_due_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    resolved_at: dt.datetime | None
    outcome: str | None
    merged_into_id: int | None = Field(
        default=None, description="Closed as merged into this incident (outcome `merged`)"
    )
    callback_due_at: dt.datetime | None = Field(
        default=None,
        description="A call-back task (the elder cancelled in time): when the call is due",
    )
    called_back_at: dt.datetime | None = None
    callback_result: CallbackResult | None = None
    revision: int = Field(
        default=0,
        description="Raised by every change in commit order: of two states of one incident, "
        "the higher revision is the newer",
    )


class LinkedIncidentRead(BaseModel):
    """Another incident tied to this one: merged into it, this merged into it, or linked."""

    relation: str = Field(description="merged_in, merged_into or linked")
    incident_id: int
    at: dt.datetime
    by: str
    kind: IncidentKind | None = Field(description="None: not one this person may see")
    priority: int | None
    status: IncidentStatus | None
    elder_name: str | None


class EmergencyService(enum.StrEnum):
    """The public emergency services an incident may be handed over to, by what they do."""

    AMBULANCE = "ambulance"  # 120
    POLICE = "police"  # 110
    FIRE = "fire"  # 119


class EmergencyCallRead(BaseModel):
    """One emergency service called for an incident, as far as it is known: the call, the
    dispatcher's reference, the hospital, the hand-over (from the timeline's steps)."""

    service: EmergencyService
    number: str = Field(description="The number dialled (120, 110, 119 or another)")
    called_at: dt.datetime
    called_by: str
    reference: str | None = Field(description="The dispatcher's reference (接警编号), once given")
    hospital: str | None = Field(description="Where the elder is taken, once known")
    handed_over_at: dt.datetime | None = Field(description="When the service's crew took over")
    handed_over_by: str | None


class IncidentDetail(IncidentRead):
    """An incident with its whole timeline, and the emergency services it was handed over to."""

    timeline: list[TimelineEntryRead]
    emergency_calls: list[EmergencyCallRead] = Field(
        default_factory=list, description="Derived from the timeline's emergency steps"
    )
    suggested_outcome: Outcome | None = Field(
        default=None,
        description="How resolving would likely say it ended: ambulance_called once an "
        "ambulance was called (the console pre-selects it); the person resolving decides",
    )
    linked: list[LinkedIncidentRead] = Field(
        default_factory=list, description="Incidents merged into this one, or linked to it"
    )


ACTOR_FIELD = (
    "Not needed: the signed-in person acts. Kept for older consoles, which send their own id; "
    "any other id is refused (422 `actor_is_signed_in_person`)."
)


class AcknowledgeRequest(BaseModel):
    """Take the incident, as the signed-in person."""

    staff_id: Id | None = Field(default=None, description=ACTOR_FIELD)


class AssignRequest(BaseModel):
    """Give the incident to this staff member (another centre's worker moves it there).

    `staff_id` is the person it goes to, not who assigns: that is the signed-in person.
    """

    staff_id: Id
    note: str = Field(default="", max_length=2000)


class NoteRequest(BaseModel):
    """A note for the timeline."""

    text: str = Field(min_length=1, max_length=2000)


class StatusChange(BaseModel):
    """Move an incident on (as the signed-in person): to what, how it ended."""

    staff_id: Id | None = Field(default=None, description=ACTOR_FIELD)
    status: IncidentStatus
    outcome: Outcome | None = None
    note: str = Field(default="", max_length=2000)


# A dispatcher's reference and a hospital's name: one line each, no control characters.
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
REFERENCE = Field(default=None, min_length=1, max_length=40, pattern=ONE_LINE,
                  description="The dispatcher's reference (接警编号), up to 40 characters")  # fmt: skip
HOSPITAL = Field(default=None, min_length=1, max_length=100, pattern=ONE_LINE,
                 description="The hospital the elder is taken to")  # fmt: skip
NUMBER = Field(default=None, pattern=r"^\+?[0-9][0-9 -]{1,18}[0-9]$",
               description="The number dialled; the service's own (120, 110, 119) if left out")  # fmt: skip


class EmergencyCallRequest(BaseModel):
    """An emergency service was called for this incident (by the signed-in person or at their
    word): the rest may follow as it becomes known."""

    model_config = ConfigDict(str_strip_whitespace=True)

    service: EmergencyService
    called_at: AwareMoment | None = Field(default=None, description="Now, if left out")
    number: str | None = NUMBER
    reference: str | None = REFERENCE
    hospital: str | None = HOSPITAL
    note: str = Field(default="", max_length=2000)


class EmergencyCallUpdate(BaseModel):
    """What has become known since the call: the fields given are set, the rest kept."""

    model_config = ConfigDict(str_strip_whitespace=True)

    called_at: AwareMoment | None = None
    number: str | None = NUMBER
    reference: str | None = REFERENCE
    hospital: str | None = HOSPITAL
    note: str = Field(default="", max_length=2000)


class HandOverRequest(BaseModel):
    """The service's crew (paramedics, police) took the elder over."""

    model_config = ConfigDict(str_strip_whitespace=True)

    at: AwareMoment | None = Field(default=None, description="Now, if left out")
    hospital: str | None = HOSPITAL
    note: str = Field(default="", max_length=2000)


class MergeRequest(BaseModel):
    """Close this incident as part of another open incident of the same elder (the case)."""

    into: Id = Field(description="The incident that stays open, the case")
    note: str = Field(default="", max_length=2000)


class LinkRequest(BaseModel):
    """Link this incident to another: different matters, each kept open or closed on its own."""

    incident_id: Id
    note: str = Field(default="", max_length=2000)


class CallbackRequest(BaseModel):
    """What the call back to an elder who cancelled their alarm found."""

    result: CallbackResult = Field(
        description="elder_fine and pressed_by_mistake resolve the incident (a false alarm, an "
        "accidental press); needs_help continues it as an alarm"
    )
    note: str = Field(default="", max_length=2000)
