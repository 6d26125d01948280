"""Shapes of work orders, their steps, the providers list and the work-order report."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, computed_field

from devices.ids import DeviceKind
from kernel.bounds import AwareMoment, Id
from kernel.models import (
    MaintenanceReason,
    MaintenanceResult,
    ProviderKind,
    ServiceNeed,
    WorkOrderCategory,
    WorkOrderStatus,
)

Text = Field(default="", max_length=500)
# Words a person must give: not empty once the spaces around them are gone.
Words = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class WorkOrderRead(BaseModel):
    """A work order as lists and the live feed show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    category: WorkOrderCategory
    status: WorkOrderStatus
    elder_id: int | None
    elder_name: str | None
    device_id: str | None
    device_event_id: int | None = Field(description="The green-key press it came from, if any")
    need: str | None = Field(
        description="A service need (meal, housework, repair, chat, other); a maintenance "
        "order's reason (battery_low, offline, mains_lost, self_test)"
    )
    request: str
    centre_code: str
    provider_kind: ProviderKind | None
    provider_id: int | None
    provider_name: str | None
    appointment_at: dt.datetime | None
    created_at: dt.datetime
    created_by: str
    accepted_at: dt.datetime | None
    accepted_by_staff_id: int | None
    closed_at: dt.datetime | None
    due_at: dt.datetime | None = Field(description="The deadline of its current status")
    overdue_at: dt.datetime | None = Field(description="When that deadline was found passed")
    late: bool = Field(description="A deadline of it was missed")
    revision: int = Field(
        default=0,
        description="Raised by every step in commit order: of two states of one order, the "
        "higher revision is the newer",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def source(self) -> Literal["green_key", "by_hand", "device_check"]:
        """Where it came from: the elder's green key (their terminal), taken by hand (a phone
        call), or the device checks (a maintenance order)."""
        if self.category is WorkOrderCategory.MAINTENANCE:
            return "device_check"
        return "green_key" if self.device_id is not None else "by_hand"


class WorkOrderStepRead(BaseModel):
    """One step of an order's history."""

    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    actor: str
    action: str
    detail: dict[str, Any]


class WorkOrderDetail(WorkOrderRead):
    """One order with its whole history, oldest step first."""

    steps: list[WorkOrderStepRead]


class WorkOrderCreate(BaseModel):
    """A request taken by hand (the elder or their family called)."""

    elder_id: Id
    need: ServiceNeed
    request: str = Field(default="", max_length=500, description="What was asked, in words")


class AcceptRequest(BaseModel):
    """Taking the order: the centre will arrange it."""

    note: str = Text


class ScheduleRequest(BaseModel):
    """Who carries it out and when: the centre itself, or a provider or volunteer of the list."""

    provider_kind: ProviderKind
    provider_id: Id | None = Field(
        default=None, description="The provider's id; none for the centre itself"
    )
    appointment_at: AwareMoment
    note: str = Text


class CloseRequest(BaseModel):
    """How it ended: done (a note optional), cancelled or the elder unreachable (a note why)."""

    status: Literal[WorkOrderStatus.DONE, WorkOrderStatus.CANCELLED, WorkOrderStatus.UNREACHABLE]
    note: str = Text


class NoteRequest(BaseModel):
    """A note on the order's history."""

    text: Words = Field(max_length=500)


class ProviderRead(BaseModel):
    """A service provider or volunteer of the list."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: ProviderKind
    phone: str | None
    centre_code: str | None = Field(description="The centre they serve; none: the whole street")
    needs: list[ServiceNeed] = Field(description="What they do; empty: anything")
    active: bool


class ProviderCreate(BaseModel):
    """A provider or volunteer to add to the list."""

    name: Words = Field(max_length=64)
    kind: Literal[ProviderKind.COMPANY, ProviderKind.VOLUNTEER]
    phone: str | None = Field(default=None, max_length=20)
    centre_code: str | None = Field(default=None, max_length=8)
    needs: list[ServiceNeed] = Field(default_factory=list, max_length=len(ServiceNeed))


class ProviderChange(BaseModel):
    """Taking a provider off the list, or back on it."""

    active: bool


class OrderCounts(BaseModel):
    """How the requests of a need, a centre or the whole street went."""

    key: str = Field(description="A need, a centre code, or 'all'")
    requests: int
    done: int
    done_on_time: int = Field(description="Done without missing a deadline")
    cancelled: int
    unreachable: int
    open: int
    overdue: int = Field(description="Still open with a deadline passed")
    share_on_time: float | None = Field(description="done_on_time / done; None when none done")


class WorkOrderReport(BaseModel):
    """The work-order report of a period: service requests made in it."""

    since: dt.datetime
    until: dt.datetime
    overall: OrderCounts
    by_need: list[OrderCounts]
    by_centre: list[OrderCounts]


class MaintenanceCloseRequest(BaseModel):
    """The installer's word on a maintenance order: done with what was done, or cancelled."""

    status: Literal[WorkOrderStatus.DONE, WorkOrderStatus.CANCELLED]
    result: MaintenanceResult | None = Field(
        default=None, description="What was done; needed to close it as done"
    )
    note: str = Text


# How a device's self-test stands, for the report's summary and tabs.
SelfTestStatus = Literal["on_time", "overdue", "failed", "never_heard", "in_store"]


class DeviceSelfTest(BaseModel):
    """A device's periodic self-test as the maintenance report shows it: a DC-09 panel's test
    (1602 / RP), or a protocol device's heartbeat, its sign of life."""

    device_id: str
    kind: DeviceKind
    reports_over: Literal["dc09", "protocol"]
    account: str | None = Field(description="The DC-09 account, for a panel")
    elder_id: int | None
    community_code: str | None
    online: bool
    last_seen_at: dt.datetime | None
    battery: int | None = Field(description="From its last heartbeat (protocol devices)")
    test_every_s: int | None = Field(
        description="The panel's test period, or the protocol's heartbeat interval"
    )
    last_test_at: dt.datetime | None = Field(
        description="The panel's last test; a protocol device's last message"
    )
    test_due_at: dt.datetime | None = Field(
        description="When the next test was due; for a protocol device, when its silence makes "
        "it offline (the gateway's `device_offline_after_s`)"
    )
    test_overdue: bool = Field(
        description="Due and not come (a bound device never heard: too; see `status`)"
    )
    test_failed_at: dt.datetime | None
    test_failure: str | None
    mains_lost_since: dt.datetime | None
    battery_low_since: dt.datetime | None
    open_orders: list[MaintenanceReason] = Field(description="Its open maintenance orders")
    status: SelfTestStatus = Field(
        description="on_time, overdue (heard before, now late), failed (its last test), "
        "never_heard (bound and silent since installation), in_store (bound to nobody)"
    )
    battery_low: bool = Field(
        description="Its heartbeat's battery below `battery_low_pct`, or the panel reports it low"
    )
    needs_action: bool = Field(
        description="Heard before and now overdue, failed, on its backup battery or low on battery"
    )
    action_since: dt.datetime | None = Field(
        description="Since when it needs action: the earliest of its test due, its failure, its "
        "mains lost, its battery low (a heartbeat's: the reading)"
    )


class SelfTestShow(StrEnum):
    """Which lines of the self-test report: those needing action (the default on the page),
    bound devices never heard from (an installation not completed), or every device."""

    ACTION = "action"
    NEVER_HEARD = "never_heard"
    ALL = "all"


class SelfTestCounts(BaseModel):
    """Devices bound to a community's elders by how their self-test stands (or every
    community's, when `community_code` is None). on_time + overdue + failed + never_heard =
    devices; needs_action counts overdue, failed, and on-time devices with mains lost or a low
    battery; mains_lost and battery_low count heard devices."""

    community_code: str | None
    devices: int = 0
    on_time: int = 0
    overdue: int = 0
    failed: int = 0
    never_heard: int = 0
    needs_action: int = 0
    mains_lost: int = 0
    battery_low: int = 0


class SelfTestSummary(BaseModel):
    """The self-test report's counts, per community and in all."""

    as_of: dt.datetime
    overall: SelfTestCounts
    by_community: list[SelfTestCounts]
    in_store: int = Field(description="Registered devices bound to no elder (not counted above)")


class SelfTestReport(BaseModel):
    """A page of the self-test report, its summary, and how many lines the page is out of."""

    summary: SelfTestSummary
    show: SelfTestShow
    community: str | None
    total: int = Field(description="Lines matching `show` and `community`, on every page")
    offset: int
    limit: int
    lines: list[DeviceSelfTest]
