"""Family SMS: one durable job per (incident, step, contact), from the alarm to the delivery receipt;
the family's replies, and the numbers that opted out."""

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


class ReplyKind(enum.StrEnum):
    """What a family member's answer to our SMS says."""

    GOING = "going"  # "1" / 我去: on their way to the elder
    CANNOT = "cannot"  # "2" / 去不了: cannot go
    TEXT = "text"  # anything else, kept as written for the operator
    STOP = "stop"  # STOP / 退订 (and Twilio's opt-out words): no non-emergency messages
    START = "start"  # START / 订阅: messages again


class FamilyReply(Base):
    """An SMS a family member sent back, matched to the incident their last message was about.

    `incident_id` is None for a reply that matched no open incident (an operator sees those
    among the unmatched). Unique per Twilio `message_sid`, so a webhook Twilio retries is
    recorded, and lands on the timeline, once.
    """

    __tablename__ = "family_replies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_sid: Mapped[str] = mapped_column(String(40), unique=True)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # As the contacts hold it (a mainland mobile without +86), else as Twilio sent it.
    phone: Mapped[str] = mapped_column(String(20), index=True)
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[ReplyKind] = mapped_column(string_enum(ReplyKind, 8))
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    # The message it answers: the newest to this number about an open incident.
    family_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("family_messages.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("emergency_contacts.id", ondelete="SET NULL")
    )
    # Who it is, as their last message named them ("" when the number is nobody's we know).
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    relation: Mapped[str] = mapped_column(String(32), default="")
    language: Mapped[str] = mapped_column(String(8), default="zh")


class FamilyOptOut(Base):
    """A number that asked for no more messages (STOP, 退订), and since when.

    It keeps the number out of non-emergency messages; out of a P1's messages only once an
    operator has confirmed that too (`emergencies_confirmed_at`, audited). START / 订阅 sets
    `opted_out` back to False and clears the confirmation; each change's message is the reply.
    """

    __tablename__ = "family_opt_outs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    opted_out: Mapped[bool]
    changed_at: Mapped[dt.datetime]
    # The message that changed it, as written ("退订", "STOP").
    text: Mapped[str] = mapped_column(String(160))
    reply_id: Mapped[int | None] = mapped_column(
        ForeignKey("family_replies.id", ondelete="SET NULL")
    )
    # The incident the opting-out reply landed on, if any: whose operators may confirm it.
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    emergencies_confirmed_at: Mapped[dt.datetime | None]
    emergencies_confirmed_by: Mapped[str | None] = mapped_column(String(64))
