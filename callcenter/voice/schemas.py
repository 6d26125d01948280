"""API shapes of click-to-call: what the incident screen may call, a call asked for, a call's
progress, and a terminal's number."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from callcenter.register.normalise import normalise_phone
from kernel.bounds import Id
from kernel.models import CallState, CallTarget


def _phone_or_none(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    number = normalise_phone(value)
    if number is None:
        raise ValueError("not a phone number (a mobile, or a landline such as 0755 2891 2345)")
    return number


# A phone to ring (a person's own, a terminal's SIM): a mobile or a landline, kept as digits;
# blank is none.
OptionalPhone = Annotated[
    str | None, Field(max_length=32, examples=["13800138000"]), AfterValidator(_phone_or_none)
]


class CallRequest(BaseModel):
    """An operator's click: call this number about this incident, through their own phone."""

    incident_id: Id
    target: CallTarget
    ref: str | None = Field(
        default=None,
        max_length=20,
        description="The contact's id (target contact) or the terminal's id (target terminal)",
    )
    request_id: str = Field(
        min_length=1,
        max_length=64,
        description="Chosen by the console per click: a retried request places one call.",
    )


class CallRead(BaseModel):
    """One call: whom, where it is, and how it ended."""

    id: int
    incident_id: int
    staff_id: int
    target: CallTarget
    target_ref: str | None
    callee: str = Field(description="Who was called, as the record named them then")
    number: str = Field(description="The number called, only its last four digits (****5678)")
    state: CallState
    duration_s: int | None = Field(description="How long they talked, once it is over")
    hung_up_by: Literal["operator", "callee"] | None
    reason: str = Field(description="Why it failed, or who hung up: a code or Twilio's words")
    error_code: int | None
    created_at: dt.datetime
    answered_at: dt.datetime | None
    ended_at: dt.datetime | None


class CallTargetRead(BaseModel):
    """A number the incident screen may call."""

    target: CallTarget
    ref: str | None
    callee: str
    number: str = Field(description="Only its last four digits (****5678)")


class CallPanel(BaseModel):
    """What the incident screen shows about calls: whether they go through Twilio, the caller's
    own phone, what may be called, and the calls made."""

    mode: Literal["twilio", "off"] = Field(
        description="off: no Twilio voice settings; the console keeps tel: links"
    )
    may_call: bool = Field(description="Whether the signed-in person may place calls here")
    my_phone: str | None = Field(description="The signed-in person's own phone: Twilio rings it")
    targets: list[CallTargetRead]
    calls: list[CallRead] = Field(description="Newest first")


class TerminalNumber(BaseModel):
    """The number of a terminal's SIM card, or none (the terminal cannot be called)."""

    phone: OptionalPhone


class TerminalLineRead(BaseModel):
    """A terminal and the number its SIM answers on."""

    device_id: str
    phone: str | None


class CallbackOutcome(BaseModel):
    """What one of Twilio's status callbacks changed."""

    call_id: int | None
    state: CallState | None
