"""API shapes of family messages: the console's outbox listing, an operator's own SMS, the
family's replies and opt-outs."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from kernel.bounds import Id
from kernel.models import FamilyStep, ReplyKind, SmsState


class FamilyMessageRead(BaseModel):
    """One family message: to whom, about which step, and what became of it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: int
    step: FamilyStep
    contact_rank: int
    contact_name: str
    relation: str
    phone: str = Field(description="Masked (139****5555): the elder's profile has it whole")
    language: str
    body: str | None
    operator_text: str | None = None
    state: SmsState
    due_at: dt.datetime
    attempts: int
    twilio_sid: str | None
    delivery_status: str | None
    error_code: int | None
    reason: str
    created_by: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    status_at: dt.datetime | None


class ManualMessage(BaseModel):
    """An operator's own SMS to one of the elder's contacts about an incident."""

    incident_id: Id
    contact_id: Id
    text: str = Field(min_length=1, max_length=300)
    request_id: str = Field(
        min_length=1,
        max_length=64,
        description="Chosen by the console per send: a retried request sends once.",
    )


class StatusOutcome(BaseModel):
    """What a delivery receipt changed."""

    message_id: int | None
    status: str


class OptOutRead(BaseModel):
    """A number that opted out (or back in), and whether that covers emergencies too."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    phone: str = Field(description="Masked (139****5555)")
    opted_out: bool
    changed_at: dt.datetime
    text: str = Field(description="The message that changed it, as written (STOP, 退订)")
    incident_id: int | None
    emergencies_confirmed_at: dt.datetime | None = Field(
        description="When an operator confirmed that a P1's messages stop too; null: they still go"
    )
    emergencies_confirmed_by: str | None


class FamilyReplyRead(BaseModel):
    """A family member's SMS to us, and the incident it was matched to (null: none open)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    received_at: dt.datetime
    phone: str = Field(description="Masked (139****5555)")
    body: str
    kind: ReplyKind
    incident_id: int | None
    family_message_id: int | None
    contact_id: int | None
    contact_name: str
    relation: str
    opt_out: OptOutRead | None = Field(
        default=None, description="The number's opt-out record, if it ever opted out"
    )
