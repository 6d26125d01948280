"""Work orders: a request for a service carried out at an elder's home, not an alarm.

An elder's green key (or a phone call to the call centre) asks for a meal, housework, a repair,
a chat: that becomes a `WorkOrder` of category `service`, routed to the elder's own community
centre, accepted, given a provider and an appointment, and done (or cancelled, or the elder
could not be reached), each with its own deadline and every step on record (`WorkOrderStep`).

The table is built for more than the green key: `category` says what kind of work it is, and
maintenance orders for devices (a flat battery, a device offline, a failed self-test, sent to
the installers) are meant to use the same table, states, deadlines and steps with category
`maintenance`, the device in `device_id`, no elder where the device is bound to nobody, and
their own values of `need` (which is why `need` is free text here and the service needs are
checked by the API, not the database). The device checks open maintenance orders
(callcenter/workorders/maintenance.py): one open per device and `MaintenanceReason`, which a
partial unique index holds to even when two checks race.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, select, text
from sqlalchemy.orm import Mapped, column_property, mapped_column

from kernel.models.base import Base, BigId, utcnow
from kernel.models.elders import Elder
from kernel.models.enums import string_enum


class WorkOrderCategory(enum.StrEnum):
    """What kind of work an order is."""

    SERVICE = "service"  # an elder's request: the green key, or a phone call
    MAINTENANCE = "maintenance"  # a device to see to (battery, offline, self-test)


class WorkOrderStatus(enum.StrEnum):
    """Where an order stands: new → accepted → scheduled → done, or cancelled / unreachable."""

    NEW = "new"
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    DONE = "done"
    CANCELLED = "cancelled"
    UNREACHABLE = "unreachable"  # the elder could not be reached to arrange it


OPEN_WORK_ORDER_STATUSES = (
    WorkOrderStatus.NEW,
    WorkOrderStatus.ACCEPTED,
    WorkOrderStatus.SCHEDULED,
)


class ServiceNeed(enum.StrEnum):
    """What the green key asks for (the protocol's `need`), or an operator heard on the phone."""

    MEAL = "meal"
    HOUSEWORK = "housework"
    REPAIR = "repair"
    CHAT = "chat"
    OTHER = "other"


class MaintenanceReason(enum.StrEnum):
    """Why a device needs the installer: a maintenance order's `need`."""

    BATTERY_LOW = "battery_low"  # a terminal's heartbeat or a panel's own report
    OFFLINE = "offline"  # silent past its heartbeat or supervision period, and stayed so
    MAINS_LOST = "mains_lost"  # a DC-09 panel on its backup battery, and stayed so
    SELF_TEST = "self_test"  # a DC-09 panel's periodic test failed, or is overdue


class MaintenanceResult(enum.StrEnum):
    """What the installer found and did, closing a maintenance order by hand."""

    BATTERY_REPLACED = "battery_replaced"
    CHARGED = "charged"
    RECONNECTED = "reconnected"  # plugged back in, network or SIM seen to
    DEVICE_REPLACED = "device_replaced"
    NO_FAULT = "no_fault"
    OTHER = "other"


# A maintenance order open for a device and reason: at most one (the status codes are
# WorkOrderStatus's open ones, spelled out because an index's condition is SQL).
OPEN_MAINTENANCE = text("category = 'maintenance' AND status IN ('new', 'accepted', 'scheduled')")


class ProviderKind(enum.StrEnum):
    """Who carries an order out."""

    CENTRE = "centre"  # the community centre's own staff (no row in `service_providers`)
    COMPANY = "company"  # a named provider: a canteen, a housekeeping firm, a repairer
    VOLUNTEER = "volunteer"


class ServiceProvider(Base):
    """A provider or volunteer the supervisors keep on the list, for the whole street or for one
    community centre."""

    __tablename__ = "service_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[ProviderKind] = mapped_column(string_enum(ProviderKind, 16))
    phone: Mapped[str | None] = mapped_column(String(20))
    # None: serves the whole street.
    centre_code: Mapped[str | None] = mapped_column(ForeignKey("centres.code"), index=True)
    # What they do, as service needs ("meal", "repair"); empty: anything.
    needs: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Taken off the list: kept for the orders that name them.
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WorkOrder(Base):
    """One piece of work at an elder's home (or on a device), from the request to its end."""

    __tablename__ = "work_orders"
    __table_args__ = (
        Index(
            "uq_work_orders_open_maintenance",
            "device_id",
            "need",
            unique=True,
            sqlite_where=OPEN_MAINTENANCE,
            postgresql_where=OPEN_MAINTENANCE,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[WorkOrderCategory] = mapped_column(
        string_enum(WorkOrderCategory, 16), index=True
    )
    status: Mapped[WorkOrderStatus] = mapped_column(string_enum(WorkOrderStatus, 16), index=True)
    elder_id: Mapped[int | None] = mapped_column(
        ForeignKey("elders.id", ondelete="SET NULL"), index=True
    )
    # The terminal whose key asked for it (a maintenance order: the device to see to).
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"))
    # The device event it came from, if any: one event makes at most one order. Anonymising an
    # elder deletes their events: the order stays, without the link.
    device_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("device_events.id", ondelete="SET NULL"), unique=True
    )
    # A ServiceNeed for service orders (None when the key did not say); a MaintenanceReason.
    need: Mapped[str | None] = mapped_column(String(32))
    # What was asked, in the words of the elder or the operator who took the call.
    request: Mapped[str] = mapped_column(Text, default="")
    # Whose work it is: the elder's own community centre.
    centre_code: Mapped[str] = mapped_column(ForeignKey("centres.code"), index=True)
    provider_kind: Mapped[ProviderKind | None] = mapped_column(string_enum(ProviderKind, 16))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("service_providers.id"))
    appointment_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[dt.datetime | None]
    accepted_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    closed_at: Mapped[dt.datetime | None]
    # The deadline of the current status (accept, schedule, do), None once it is over. Stored
    # with the order, so a restart neither loses nor repeats an overdue report.
    due_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    # When the current deadline was found passed and reported (cleared when the order moves on).
    overdue_at: Mapped[dt.datetime | None]
    # A deadline of it was missed (kept when it moves on): it was not done on time.
    late: Mapped[bool] = mapped_column(default=False)
    # Raised by every step, in commit order (kernel/revisions.py): a page drops an older state.
    revision: Mapped[int] = mapped_column(default=0, server_default="0")
    # Read in the same query, for lists and the live feed (a name does not change with a step).
    elder_name: Mapped[str | None] = column_property(
        select(Elder.name).where(Elder.id == elder_id).scalar_subquery(), expire_on_flush=False
    )
    provider_name: Mapped[str | None] = column_property(
        select(ServiceProvider.name).where(ServiceProvider.id == provider_id).scalar_subquery(),
        expire_on_flush=False,
    )


class WorkOrderStep(Base):
    """One step of a work order's history: who, when, what, and its details."""

    __tablename__ = "work_order_steps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    # The device event behind this step (a press of the green key): one event, one step at most.
    device_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("device_events.id", ondelete="SET NULL"), unique=True
    )
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
