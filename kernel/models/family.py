"""Family SMS: one durable job per (incident, step, contact), from the alarm to the delivery receipt."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models.base import Base, BigId, utcnow
from kernel.models.enums import string_enum


class FamilyStep(enum.StrEnum):
    """The step of the incident's loop a message tells the family about."""

    OPENED = "opened"  # the alarm: who, what, that help is being sent
    ON_THE_WAY = "on_the_way"  # a worker took it: who is coming, and the ETA
    RESOLVED = "resolved"  # over, with the outcome in plain words
    WELFARE_FINDING = "welfare_finding"  # a welfare check found something
    MANUAL = "manual"  # an operator's own words, from the console


class SmsState(enum.StrEnum):
    """Where a family message is on its way out."""

    PENDING = "pending"  # waiting for due_at (backoff, quiet hours, limits) or its turn
    SENDING = "sending"  # attempt key committed, the Twilio call is in flight (or crashed)
    UNSURE = "unsure"  # the call ended without an answer: look Twilio up before any resend
    ACCEPTED = "accepted"  # Twilio took it (twilio_sid); delivery_status follows by callback
    OUTBOX = "outbox"  # recorded only: no Twilio credentials in this process
    FAILED = "failed"  # permanent: invalid number, unsubscribed, retries spent
    SKIPPED = "skipped"  # not to be sent: policy, or an earlier contact was reached
    REVIEW = "review"  # the send may or may not have happened and Twilio could not tell us


WAITING_STATES = (SmsState.PENDING, SmsState.SENDING, SmsState.UNSURE)


class FamilyMessage(Base):
    """Who is to be told what about an incident, and what became of it.

    Recorded in the same transaction as the incident step that causes it, unique per
    (incident, step, contact) through `dedupe_key`, so a repeated alarm never queues twice.
    """

    __tablename__ = "family_messages"
    __table_args__ = (
        Index("ix_family_messages_state_due_at", "state", "due_at"),
        Index("ix_family_messages_phone_sent_at", "phone", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[FamilyStep] = mapped_column(string_enum(FamilyStep, 16))
    # "<incident>:<step>:<contact>" (or "manual:<request>"): the same step never queues twice.
    dedupe_key: Mapped[str] = mapped_column(String(80), unique=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("emergency_contacts.id", ondelete="SET NULL")
    )
    # 1 for the first contact with a phone, 2 for the next: later ones only if earlier unreached.
    contact_rank: Mapped[int]
    # The contact as it was when the job was recorded (a register re-import may change it).
    contact_name: Mapped[str] = mapped_column(String(64))
    relation: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(8))
    # What the message needs beyond the incident: worker, ETA, operator's text.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body: Mapped[str | None] = mapped_column(Text)
    state: Mapped[SmsState] = mapped_column(string_enum(SmsState, 16), default=SmsState.PENDING)
    due_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    attempt_key: Mapped[str | None] = mapped_column(String(40))
    sending_at: Mapped[dt.datetime | None]
    twilio_sid: Mapped[str | None] = mapped_column(String(40), unique=True)
    # Twilio's word: queued, sending, sent, delivered, undelivered, failed.
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[int | None]
    reason: Mapped[str] = mapped_column(String(255), default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    status_at: Mapped[dt.datetime | None]

    @property
    def operator_text(self) -> str | None:
        """An operator's own words (a manual message), shown before the body is rendered."""
        text = (self.facts or {}).get("text")
        return str(text) if text is not None else None
