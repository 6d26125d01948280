"""Incidents as the API shows them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kernel.bounds import Id
from kernel.models import IncidentKind, IncidentStatus, Outcome


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


class IncidentDetail(IncidentRead):
    """An incident with its whole timeline."""

    timeline: list[TimelineEntryRead]


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
