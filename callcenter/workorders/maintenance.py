"""Maintenance work orders: a device that needs the installer, apart from the care workers' orders.

The device checks (run with the technical alarms, callcenter/incidents/technical.py) open one
order per device and reason (MaintenanceReason) while the condition lasts, and close it by
themselves, with a step saying why, once it has cleared:

| reason | opens when | clears when | due (setting) |
|---|---|---|---|
| battery_low | a heartbeat's battery below `battery_low_pct`, or a panel reports it low | the battery is back to the low mark plus BATTERY_BACK_MARGIN, and no panel trouble | `maintenance_battery_within_h` (48) |
| offline | offline and silent `maintenance_after_min` (60) | online again | `maintenance_offline_within_h` (24) |
| mains_lost | a panel on its backup battery `maintenance_after_min` | the panel reports its mains back | `maintenance_mains_within_h` (24) |
| self_test | a panel's periodic test failed, or is `maintenance_after_min` late | a test passes and the next is not late | `maintenance_test_within_h` (48) |

A check run again, or two at once, opens nothing twice (the open order is looked for, and a
partial unique index refuses a second). An order closed by hand is not opened again for the
same condition: only evidence newer than its closing (a heartbeat after it still low, a panel
trouble reported again, a device dropping again) opens another. The deadline passed is
reported once by the work-order check, like a service order's (deadline `fix`).

Only devices of active elders get new orders, like the technical alarms (a departed elder's
terminal is being collected; an unbound device is in the store); an open order closes when its
condition clears whoever the device is bound to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from callcenter.workorders import repository
from callcenter.workorders.repository import DeviceState
from callcenter.workorders.service import WorkOrderClosedError
from kernel import audit
from kernel.database import write_turn
from kernel.errors import DomainError
from kernel.models import (
    OPEN_WORK_ORDER_STATUSES,
    Elder,
    MaintenanceReason,
    MaintenanceResult,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderStatus,
    as_utc,
)
from kernel.settings import Settings

R = MaintenanceReason
# How the history and the audit log name the device checks.
CHECK = "device-check"
# A battery hovering at the low mark (19, 20, 19 %) would open and close an order every few
# heartbeats; it counts as back only well above it (a new or charged battery reads near 100).
BATTERY_BACK_MARGIN = 10


class ResultRequiredError(DomainError):
    """Closing a maintenance order as done says what was done; cancelling or 'other' says why."""

    status_code = 422
    code = "result_required"


class NotMaintenanceError(DomainError):
    """A service order is the care workers', not the installer's."""

    status_code = 409
    code = "not_maintenance"


@dataclass(frozen=True, slots=True)
class Finding:
    """A condition of a device that needs the installer, found now."""

    device_id: str
    reason: MaintenanceReason
    elder_id: int | None
    centre_code: str
    since: dt.datetime  # the latest evidence of it: a heartbeat, a panel's report, a drop
    detail: dict[str, Any] = field(default_factory=dict)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def test_due_at(state: DeviceState) -> dt.datetime | None:
    """When the panel's next periodic test was due (None: no schedule kept)."""
    if state.test_every_s is None:
        return None
    since = as_utc(state.last_test_at or state.account_created_at)
    return None if since is None else since + dt.timedelta(seconds=state.test_every_s)


def findings_of(state: DeviceState, settings: Settings, now: dt.datetime) -> list[Finding]:
    """What this device needs the installer for, now."""
    if state.elder_id is None or state.community_code is None:
        return []
    after = dt.timedelta(minutes=settings.maintenance_after_min)
    found = []

    def add(reason: MaintenanceReason, since: dt.datetime | None, **detail: Any) -> None:
        if since is not None and state.community_code is not None:
            found.append(
                Finding(
                    state.device_id, reason, state.elder_id, state.community_code, since, detail
                )
            )

    seen = as_utc(state.last_seen_at)
    if state.battery is not None and state.battery < settings.battery_low_pct:
        add(R.BATTERY_LOW, seen, battery=state.battery)
    elif state.battery_low_since is not None:
        add(R.BATTERY_LOW, as_utc(state.battery_low_since), panel=True)
    if not state.online and seen is not None and seen <= now - after:
        add(R.OFFLINE, seen)
    mains = as_utc(state.mains_lost_since)
    if mains is not None and mains <= now - after:
        add(R.MAINS_LOST, mains)
    due = test_due_at(state)
    if state.test_failed_at is not None:
        add(R.SELF_TEST, as_utc(state.test_failed_at), failure=state.test_failure)
    elif due is not None and due <= now - after:
        add(R.SELF_TEST, due, test_due_at=_iso(due))
    return found


def cleared(
    order: WorkOrder, state: DeviceState | None, settings: Settings, now: dt.datetime
) -> str | None:
    """Why the condition of this open order is over (a step's `why`), or None while it lasts."""
    if state is None:
        return "device_removed"
    now_due = test_due_at(state)
    match order.need:
        case R.BATTERY_LOW.value:
            back = settings.battery_low_pct + BATTERY_BACK_MARGIN
            low = state.battery is not None and state.battery < back
            return None if low or state.battery_low_since is not None else "battery_back"
        case R.OFFLINE.value:
            return "back_online" if state.online else None
        case R.MAINS_LOST.value:
            return "mains_back" if state.mains_lost_since is None else None
        case R.SELF_TEST.value:
            late = now_due is not None and now_due <= now
            return None if state.test_failed_at is not None or late else "test_passed"
    return None


def due_for(reason: MaintenanceReason, opened: dt.datetime, settings: Settings) -> dt.datetime:
    """When an order of this reason must be done (the installer works any day, on the clock)."""
    hours = {
        R.BATTERY_LOW: settings.maintenance_battery_within_h,
        R.OFFLINE: settings.maintenance_offline_within_h,
        R.MAINS_LOST: settings.maintenance_mains_within_h,
        R.SELF_TEST: settings.maintenance_test_within_h,
    }[reason]
    return opened + dt.timedelta(hours=hours)


async def open_order(
    session: AsyncSession, finding: Finding, settings: Settings, now: dt.datetime
) -> WorkOrder | None:
    """A new maintenance order for the finding; None if one is open for this device and reason
    (found, or inserted by another check at the same moment)."""
    if await repository.open_maintenance_order(session, finding.device_id, finding.reason):
        return None
    order = WorkOrder(
        category=WorkOrderCategory.MAINTENANCE,
        status=WorkOrderStatus.NEW,
        elder_id=finding.elder_id,
        device_id=finding.device_id,
        need=finding.reason.value,
        request="",
        centre_code=finding.centre_code,
        created_at=now,
        created_by=CHECK,
        due_at=due_for(finding.reason, now, settings),
        late=False,
    )
    try:
        async with session.begin_nested():
            session.add(order)
            await session.flush()
    except IntegrityError:
        return None  # another check opened it first
    elder = await session.get(Elder, finding.elder_id) if finding.elder_id else None
    set_committed_value(order, "elder_name", elder.name if elder is not None else None)
    set_committed_value(order, "provider_name", None)
    repository.add_step(
        session, order, "opened", actor=CHECK, at=now, need=finding.reason.value,
        since=_iso(finding.since), due_at=_iso(order.due_at), **finding.detail,
    )  # fmt: skip
    await _audit(session, order, CHECK, "work_order.opened", need=finding.reason.value)
    return order


async def close_cleared(
    session: AsyncSession, order: WorkOrder, why: str, now: dt.datetime
) -> None:
    """The condition is over by itself: the order is done, with a step saying why."""
    _moving_on(order, now)
    order.status = WorkOrderStatus.DONE
    order.closed_at = now
    order.due_at = None
    repository.add_step(session, order, "cleared", actor=CHECK, at=now, why=why)
    await _audit(session, order, CHECK, "work_order.closed", status="done", why=why)


async def close_by_hand(
    session: AsyncSession,
    order: WorkOrder,
    status: WorkOrderStatus,
    result: MaintenanceResult | None,
    note: str,
    now: dt.datetime,
    *,
    by: str,
) -> None:
    """The installer's word: done with what was done (a note for 'other'), or cancelled with a
    note why."""
    if order.category is not WorkOrderCategory.MAINTENANCE:
        raise NotMaintenanceError(f"work order {order.id} is a service order")
    _still_open(order)
    if status is WorkOrderStatus.DONE and result is None:
        raise ResultRequiredError("say what was done: a result is needed")
    if (status is not WorkOrderStatus.DONE or result is MaintenanceResult.OTHER) and not (
        note.strip()
    ):
        raise ResultRequiredError("say why: a note is needed")
    _moving_on(order, now)
    order.status = status
    order.closed_at = now
    order.due_at = None
    repository.add_step(
        session, order, status.value, actor=by, at=now,
        result=result.value if result is not None else None, note=note,
    )  # fmt: skip
    await _audit(
        session, order, by, "work_order.closed", status=status.value,
        result=result.value if result is not None else None,
    )  # fmt: skip


async def check_maintenance(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: dt.datetime
) -> tuple[list[int], list[int]]:
    """Open orders for what devices need now and close those whose condition cleared; returns
    (opened, closed) order ids. Safe to run again and from several processes."""
    after = dt.timedelta(minutes=settings.maintenance_after_min)
    async with sessions() as session:
        states = await repository.states_of_active_elders_devices(
            session, now - after, settings.battery_low_pct
        )
        open_now = list(await repository.open_maintenance_orders(session))
        closes = await repository.last_hand_closes(session)
        open_states = await repository.states_of(
            session, {o.device_id for o in open_now if o.device_id}
        )
    have = {(o.device_id, o.need) for o in open_now}
    opened: list[int] = []
    for state in states:
        for finding in findings_of(state, settings, now):
            if (finding.device_id, finding.reason.value) in have:
                continue
            last_closed = as_utc(closes.get((finding.device_id, finding.reason.value)))
            if last_closed is not None and finding.since <= last_closed:
                continue  # closed by hand since it was last seen: only news opens another
            async with write_turn(sessions), sessions() as session, session.begin():
                order = await open_order(session, finding, settings, now)
                if order is not None:
                    opened.append(order.id)
    closed: list[int] = []
    for order in open_now:
        why = cleared(order, open_states.get(order.device_id or ""), settings, now)
        if why is None:
            continue
        async with write_turn(sessions), sessions() as session, session.begin():
            fresh = await session.get(WorkOrder, order.id, with_for_update=True)
            if fresh is None or fresh.status not in OPEN_WORK_ORDER_STATUSES:
                continue  # closed by hand or by another check meanwhile
            await close_cleared(session, fresh, why, now)
            closed.append(order.id)
    return opened, closed


def _still_open(order: WorkOrder) -> None:
    if order.status not in OPEN_WORK_ORDER_STATUSES:
        raise WorkOrderClosedError(f"work order {order.id} is {order.status.value}")


def _moving_on(order: WorkOrder, now: dt.datetime) -> None:
    """A deadline already passed makes it late, even if the overdue check has not come round."""
    due = as_utc(order.due_at)
    if due is not None and due < now:
        order.late = True
    order.overdue_at = None


async def _audit(
    session: AsyncSession, order: WorkOrder, by: str, action: str, **detail: Any
) -> None:
    await audit.record(
        session, actor=by, action=action, subject_type="work_order", subject_id=order.id,
        detail={"category": "maintenance", **detail},
    )  # fmt: skip
