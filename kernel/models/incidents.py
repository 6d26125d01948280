"""Incidents: what a person must handle, from an alarm to its close, with every step on record."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, select
from sqlalchemy.orm import Mapped, column_property, mapped_column

from kernel.models.base import Base, BigId, utcnow
from kernel.models.elders import Elder
from kernel.models.enums import string_enum


class IncidentKind(enum.StrEnum):
    SOS = "sos"
    FALL = "fall"
    SERVICE = "service"  # the green key: a work order, not an alarm
    VITALS = "vitals"
    WANDERING = "wandering"
    WELFARE = "welfare"
    TECHNICAL = "technical"
    # An elder's readings drifting from their own baseline for days (callcenter/care): a P3 for
    # their community centre, due in days, never chased like an alarm.
    TREND = "trend"


class IncidentStatus(enum.StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    RESOLVED = "resolved"
    FOLLOWED_UP = "followed_up"
    CLOSED = "closed"


class Outcome(enum.StrEnum):
    """How an incident ended, in the codes reports count by."""

    FALSE_ALARM = "false_alarm"
    ASSISTANCE_GIVEN = "assistance_given"
    AMBULANCE_CALLED = "ambulance_called"
    FAMILY_ATTENDING = "family_attending"
    REFERRED = "referred"  # to a doctor, the community health centre, the police
    SERVICE_DONE = "service_done"  # a green-key work order carried out
    RECOVERED = "recovered"  # a technical alarm that cleared itself: the devices came back
    # Alarms that were no emergency at all; reports count them apart from the real ones.
    ACCIDENTAL_PRESS = "accidental_press"  # 误按: the elder (or a visitor) pressed by mistake
    DEVICE_TEST = "device_test"  # 设备测试: an installer or the elder trying the device


# An incident an operator merged into another of the same emergency is closed with this outcome
# and points to the case it joined (`merged_into_id`). Not an `Outcome`: nobody resolves with it.
MERGED_OUTCOME = "merged"


class CallbackResult(enum.StrEnum):
    """What the call back to an elder who cancelled their alarm found."""

    ELDER_FINE = "elder_fine"  # resolved: false alarm
    PRESSED_BY_MISTAKE = "pressed_by_mistake"  # resolved: accidental press
    NEEDS_HELP = "needs_help"  # the case goes on as an alarm


OPEN_STATUSES = (
    IncidentStatus.NEW,
    IncidentStatus.ASSIGNED,
    IncidentStatus.ACKNOWLEDGED,
    IncidentStatus.EN_ROUTE,
    IncidentStatus.ON_SITE,
)


class Incident(Base):
    """One matter to handle: P1 life-threatening to P4 technical, routed, tracked, closed."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_elder_status", "elder_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[IncidentKind] = mapped_column(string_enum(IncidentKind, 16))
    priority: Mapped[int]  # 1 (life-threatening) .. 4 (technical)
    status: Mapped[IncidentStatus] = mapped_column(string_enum(IncidentStatus, 16), index=True)
    # None: an unidentified caller (a registered device bound to no elder).
    elder_id: Mapped[int | None] = mapped_column(ForeignKey("elders.id", ondelete="SET NULL"))
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"))
    centre_code: Mapped[str] = mapped_column(ForeignKey("centres.code"), index=True)
    assigned_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    routing: Mapped[str] = mapped_column(Text)
    cancelled_by_elder: Mapped[bool] = mapped_column(default=False)
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Stored with the incident, so a restart neither loses nor repeats an escalation.
    ack_due_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    escalation_level: Mapped[int] = mapped_column(default=0)
    supervisor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    acknowledged_at: Mapped[dt.datetime | None]
    # A P1 with nobody on site by then escalates again (and the deadline moves on).
    onsite_due_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    # What makes two alarms the same matter where there is no elder to join on:
    # "offline:<device>", "battery:<device>", "power:<community>".
    group_key: Mapped[str | None] = mapped_column(String(64), index=True)
    resolved_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    # Closed as merged into this case of the same emergency (callcenter/incidents/merge.py).
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    # An alarm the elder cancelled in time is a call-back task (callcenter/incidents/callback.py):
    # its deadline (moved on each time it is missed and escalated), when it was done, what it found.
    callback_due_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    called_back_at: Mapped[dt.datetime | None]
    callback_result: Mapped[str | None] = mapped_column(String(24))
    # Raised by every change, in commit order (kernel/revisions.py): a page drops an older state.
    revision: Mapped[int] = mapped_column(default=0, server_default="0")
    # Who it is about, read in the same query: the queue and the live feed show a name, not an id.
    # Kept through flushes (a name does not change with the incident's steps).
    elder_name: Mapped[str | None] = column_property(
        select(Elder.name).where(Elder.id == elder_id).scalar_subquery(), expire_on_flush=False
    )


class IncidentEntry(Base):
    """One step of an incident's timeline: who, when, what, and its details."""

    __tablename__ = "incident_timeline"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    # The device event behind this step, if any: one event makes at most one step (idempotency).
    device_event_id: Mapped[int | None] = mapped_column(ForeignKey("device_events.id"), unique=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DeviceNotice(Base):
    """A `notice` for a terminal ("社工正在赶来"), recorded by the call centre, sent by the gateway.

    Recorded in the same transaction as the step that causes it, and sent (and retried) by
    the gateway until the broker has it, so a crash between the two loses nothing.
    """

    __tablename__ = "device_notices"
    __table_args__ = (
        CheckConstraint(
            "(incident_id IS NULL) <> (work_order_id IS NULL)", name="about_one_matter"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    # What it is about: an incident, or a work order (the green key's "已收到您的服务请求").
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    work_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE")
    )
    text: Mapped[str] = mapped_column(String(200))
    eta_min: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)

    @property
    def ref(self) -> str:
        """The notice's `ref` on the wire: the incident's id, or `W` and the work order's."""
        return str(self.incident_id) if self.incident_id is not None else f"W{self.work_order_id}"
