"""Voice: an operator's click-to-call through Twilio, and the numbers of terminals with a SIM."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models.base import Base, BigId, utcnow
from kernel.models.enums import string_enum


class CallTarget(enum.StrEnum):
    """Whom an operator calls about an incident."""

    ELDER = "elder"  # the elder's own phone
    ELDER_SECOND = "elder_second"  # their other phone
    CONTACT = "contact"  # an emergency contact (target_ref: the contact's id)
    TERMINAL = "terminal"  # the SOS terminal's own SIM (target_ref: the device's id)


class CallState(enum.StrEnum):
    """Where a call is, as the operator sees it: their own phone first, then the other party."""

    PLACING = "placing"  # recorded; Twilio is being asked to ring the operator
    CALLING_OPERATOR = "calling_operator"  # Twilio took it: the operator's own phone rings
    CONNECTING = "connecting"  # the operator answered; Twilio dials the other party
    RINGING = "ringing"  # the other party's phone rings
    IN_PROGRESS = "in_progress"  # both are talking
    COMPLETED = "completed"  # they talked and hung up (duration_s, hung_up_by)
    BUSY = "busy"  # the other party's line was busy
    NO_ANSWER = "no_answer"  # nobody answered the other party's phone
    FAILED = "failed"  # could not be connected (reason, error_code)
    CANCELED = "canceled"  # hung up before the other party answered
    OPERATOR_UNREACHED = "operator_unreached"  # the operator's own phone did not answer


FINAL_CALL_STATES = (
    CallState.COMPLETED,
    CallState.BUSY,
    CallState.NO_ANSWER,
    CallState.FAILED,
    CallState.CANCELED,
    CallState.OPERATOR_UNREACHED,
)


class VoiceCall(Base):
    """One click-to-call: Twilio rings the operator's own phone, then bridges it to the number
    chosen; each leg's progress as Twilio's signed callbacks report it.

    Recorded before Twilio is asked, so that a callback racing Twilio's answer finds its row
    (the callback URLs carry the row's id); unique per (operator, request id), so a retried
    click places one call.
    """

    __tablename__ = "voice_calls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    # "<staff id>:<the console's request id>": a retried click places no second call.
    request_key: Mapped[str] = mapped_column(String(100), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    operator_phone: Mapped[str] = mapped_column(String(20))
    target: Mapped[CallTarget] = mapped_column(string_enum(CallTarget, 16))
    target_ref: Mapped[str | None] = mapped_column(String(20))
    # Who was called, as it was at the time ("女儿 李娟"), and the number dialled.
    callee: Mapped[str] = mapped_column(String(100))
    callee_phone: Mapped[str] = mapped_column(String(20))
    state: Mapped[CallState] = mapped_column(string_enum(CallState, 24), default=CallState.PLACING)
    # Twilio's sid and last status word of each leg (queued, ringing, in-progress, completed...).
    operator_sid: Mapped[str | None] = mapped_column(String(40), unique=True)
    operator_status: Mapped[str | None] = mapped_column(String(16))
    callee_sid: Mapped[str | None] = mapped_column(String(40), unique=True)
    callee_status: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    duration_s: Mapped[int | None]
    hung_up_by: Mapped[str | None] = mapped_column(String(16))  # operator or callee
    error_code: Mapped[int | None]
    reason: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TerminalLine(Base):
    """The number of an SOS terminal with a SIM of its own: an operator may call the terminal
    (its loudspeaker answers) when the elder cannot reach a phone."""

    __tablename__ = "terminal_lines"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    phone: Mapped[str] = mapped_column(String(20))
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
