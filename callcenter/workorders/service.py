"""Work-order rules: a service request from the green key or the phone, routed to the elder's
own community centre; accepted, given a provider and an appointment, closed; each status with
its own deadline, and a deadline passed reported as overdue (to the centre and the supervisor
on duty, on the order and its page), never raised as an alarm.

Deadlines (kernel/settings.py says why each has its value):
- new: accepted within `work_order_accept_within_min` of the centre's open hours;
- accepted: given its appointment (or closed) within `work_order_schedule_within_h` of them;
- scheduled: done by the appointment plus `work_order_done_grace_min`, on the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from callcenter.workorders import repository
from callcenter.workorders.schemas import (
    CloseRequest,
    OrderCounts,
    ProviderCreate,
    ScheduleRequest,
    WorkOrderReport,
)
from devices.ids import DeviceKind
from kernel import audit
from kernel.errors import DomainError, NotFoundError
from kernel.models import (
    OPEN_WORK_ORDER_STATUSES,
    Centre,
    DeviceEvent,
    DeviceNotice,
    Elder,
    ProviderKind,
    ServiceNeed,
    ServiceProvider,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderStatus,
)
from kernel.settings import Settings

S = WorkOrderStatus
# How the audit log and the history name the alarm engine, which opens orders from the key.
ENGINE = "alarm-engine"
# A street with no open hours in 400 days is a misconfiguration, not a reason to loop for ever.
LONGEST_SEARCH_DAYS = 400

# What the elder's terminal says (it speaks Chinese, like every notice).
RECEIVED = "已收到您的服务请求，社区中心会尽快与您联系"
ALREADY_RECEIVED = "您的服务请求正在处理中，请耐心等候"
SCHEDULED = "您的服务已安排在{when}"


class WorkOrderClosedError(DomainError):
    """The order is done, cancelled or the elder was unreachable: nothing more can happen to it."""

    status_code = 409
    code = "work_order_closed"


class NotAcceptableError(DomainError):
    """Only a new order can be accepted."""

    status_code = 409
    code = "already_accepted"


class UnknownProviderError(DomainError):
    """No provider of the list with this id serves this order's centre (or it was taken off)."""

    status_code = 422
    code = "unknown_provider"


class AppointmentBeforeRequestError(DomainError):
    """An appointment cannot be before the request was made."""

    status_code = 422
    code = "appointment_before_request"


class NoteRequiredError(DomainError):
    """Cancelling an order, or giving up on reaching the elder, needs a note saying why."""

    status_code = 422
    code = "note_required"


class ElderNotFoundError(NotFoundError):
    """No elder with this id (or not one this person may see)."""


class UnknownCentreError(DomainError):
    """No centre with this code."""

    status_code = 422
    code = "unknown_centre"


def due_in_open_hours(
    start: dt.datetime,
    span: dt.timedelta,
    opens: dt.time | None,
    closes: dt.time | None,
    tz: ZoneInfo,
) -> dt.datetime:
    """The moment `span` of a centre's open time has passed after `start` (local hours
    `opens`-`closes`, across midnight when closes <= opens; None: always open). A span of
    nothing is the next moment the centre is open."""
    if opens is None or closes is None or opens == closes:
        return start + span
    left = span
    day = start.astimezone(tz).date() - dt.timedelta(days=1)  # a window from yesterday may run on
    for _ in range(LONGEST_SEARCH_DAYS):
        window_starts = dt.datetime.combine(day, opens, tz)
        window_ends = dt.datetime.combine(
            day if closes > opens else day + dt.timedelta(days=1), closes, tz
        )
        begin = max(window_starts, start)
        if begin < window_ends:
            if left <= window_ends - begin:
                return (begin + left).astimezone(dt.UTC)
            left -= window_ends - begin
        day += dt.timedelta(days=1)
    raise ValueError(f"no open hours {opens}-{closes} found after {start}")


def accept_due(start: dt.datetime, centre: Centre | None, settings: Settings) -> dt.datetime:
    """When a new order must have been accepted."""
    span = dt.timedelta(minutes=settings.work_order_accept_within_min)
    return _in_hours(start, span, centre, settings)


def schedule_due(start: dt.datetime, centre: Centre | None, settings: Settings) -> dt.datetime:
    """When an accepted order must have its appointment."""
    span = dt.timedelta(hours=settings.work_order_schedule_within_h)
    return _in_hours(start, span, centre, settings)


def done_due(appointment: dt.datetime, settings: Settings) -> dt.datetime:
    """When a scheduled order must be done: its appointment, the visit and the note."""
    return appointment + dt.timedelta(minutes=settings.work_order_done_grace_min)


def _in_hours(
    start: dt.datetime, span: dt.timedelta, centre: Centre | None, settings: Settings
) -> dt.datetime:
    if centre is None:
        return start + span
    return due_in_open_hours(start, span, centre.opens_at, centre.closes_at, settings.tz)


def need_of(payload: dict[str, Any]) -> str | None:
    """The need a green-key press says, if it is one the protocol knows."""
    need = payload.get("need")
    return need if need in set(ServiceNeed) else None


async def from_green_key(
    session: AsyncSession, event: DeviceEvent, settings: Settings, now: dt.datetime
) -> WorkOrder | None:
    """The green key: a new work order for the elder's own centre, or, while one for the same
    need is open, a step on it; the terminal is told either way. Safe to repeat (a press
    already taken changes nothing); None for a press of nobody's terminal."""
    if event.elder_id is None or await repository.event_taken(session, event.id):
        return None
    need = need_of(event.payload)
    current = await repository.open_order_for(session, event.elder_id, need)
    if current is not None:
        repository.add_step(
            session, current, "repeated", actor=ENGINE, device_event_id=event.id, at=now
        )
        await _tell_terminal(session, current, ALREADY_RECEIVED)
        return current
    elder = await session.get(Elder, event.elder_id)
    if elder is None:
        return None
    order = await _open(
        session, elder, need, "", settings, now, by=ENGINE, device_id=event.device_id,
        device_event_id=event.id,
    )  # fmt: skip
    await _tell_terminal(session, order, RECEIVED)
    return order


async def create_by_hand(
    session: AsyncSession,
    elder: Elder,
    need: ServiceNeed,
    request: str,
    settings: Settings,
    now: dt.datetime,
    *,
    by: str,
) -> WorkOrder:
    """A request taken on the phone: a new order for the elder's own centre."""
    return await _open(session, elder, need.value, request, settings, now, by=by)


async def _open(
    session: AsyncSession,
    elder: Elder,
    need: str | None,
    request: str,
    settings: Settings,
    now: dt.datetime,
    *,
    by: str,
    device_id: str | None = None,
    device_event_id: int | None = None,
) -> WorkOrder:
    centre = await session.get(Centre, elder.community_code)
    order = WorkOrder(
        category=WorkOrderCategory.SERVICE,
        status=S.NEW,
        elder_id=elder.id,
        device_id=device_id,
        device_event_id=device_event_id,
        need=need,
        request=request,
        centre_code=elder.community_code,
        created_at=now,
        created_by=by,
        due_at=accept_due(now, centre, settings),
        late=False,
    )
    session.add(order)
    await session.flush()
    set_committed_value(order, "elder_name", elder.name)
    set_committed_value(order, "provider_name", None)
    repository.add_step(
        session, order, "opened", actor=by, device_event_id=device_event_id, at=now,
        need=need, centre=order.centre_code, due_at=_iso(order.due_at),
    )  # fmt: skip
    await _audit(session, order, by, "work_order.opened", need=need, centre=order.centre_code)
    return order


async def accept(
    session: AsyncSession, order: WorkOrder, settings: Settings, now: dt.datetime, *,
    staff_id: int, by: str, note: str = "",
) -> None:  # fmt: skip
    """Take a new order: the centre will arrange it; the next deadline is its appointment."""
    _still_open(order)
    if order.status is not S.NEW:
        raise NotAcceptableError(f"work order {order.id} is {order.status.value}, not new")
    _moving_on(order, now)
    order.status = S.ACCEPTED
    order.accepted_at = now
    order.accepted_by_staff_id = staff_id
    order.due_at = schedule_due(now, await session.get(Centre, order.centre_code), settings)
    repository.add_step(
        session, order, "accepted", actor=by, at=now, note=note, due_at=_iso(order.due_at)
    )
    await _audit(session, order, by, "work_order.accepted")


async def schedule(
    session: AsyncSession, order: WorkOrder, body: ScheduleRequest, settings: Settings,
    now: dt.datetime, *, staff_id: int, by: str,
) -> None:  # fmt: skip
    """Who carries it out and when (again, to change either); a new order is accepted with it."""
    _still_open(order)
    provider = await _provider_for(session, order, body)
    if body.appointment_at < order.created_at:
        raise AppointmentBeforeRequestError(
            "the appointment is before the request was made: check the date"
        )
    if order.status is S.NEW:
        await accept(session, order, settings, now, staff_id=staff_id, by=by)
    _moving_on(order, now)
    order.status = S.SCHEDULED
    order.provider_kind = body.provider_kind
    order.provider_id = provider.id if provider is not None else None
    set_committed_value(order, "provider_name", provider.name if provider is not None else None)
    order.appointment_at = body.appointment_at
    order.due_at = done_due(body.appointment_at, settings)
    repository.add_step(
        session, order, "scheduled", actor=by, at=now, provider_kind=body.provider_kind.value,
        provider=order.provider_name, appointment_at=_iso(body.appointment_at), note=body.note,
        due_at=_iso(order.due_at),
    )  # fmt: skip
    await _audit(
        session, order, by, "work_order.scheduled", provider_kind=body.provider_kind.value,
        provider=order.provider_id,
    )  # fmt: skip
    when = body.appointment_at.astimezone(settings.tz)
    said = f"{when.month}月{when.day}日 {when:%H:%M}"
    await _tell_terminal(session, order, SCHEDULED.format(when=said))


async def close(
    session: AsyncSession, order: WorkOrder, body: CloseRequest, now: dt.datetime, *, by: str
) -> None:
    """Done, cancelled, or the elder could not be reached: the order is over."""
    _still_open(order)
    if body.status is not S.DONE and not body.note.strip():
        raise NoteRequiredError(f"say why the order is {body.status.value}: a note is needed")
    _moving_on(order, now)
    order.status = body.status
    order.closed_at = now
    order.due_at = None
    repository.add_step(session, order, body.status.value, actor=by, at=now, note=body.note)
    await _audit(session, order, by, "work_order.closed", status=body.status.value)


async def cancel_for_departure(
    session: AsyncSession, orders: Sequence[WorkOrder], reason: str, now: dt.datetime, *, by: str
) -> None:
    """The elder died or moved away: their open orders are cancelled with that reason (a step
    each, in words), so nothing reports them overdue later."""
    for order in orders:
        order.status = S.CANCELLED
        order.closed_at = now
        order.due_at = None
        repository.add_step(session, order, S.CANCELLED.value, actor=by, at=now, reason=reason)
        await _audit(session, order, by, "work_order.closed", status=S.CANCELLED.value)


def add_note(
    session: AsyncSession, order: WorkOrder, text: str, now: dt.datetime, *, by: str
) -> None:
    """A note on the order's history (whatever its status)."""
    repository.add_step(session, order, "note", actor=by, at=now, text=text)


async def report_overdue(
    session: AsyncSession, order: WorkOrder, supervisor_id: int | None, now: dt.datetime
) -> bool:
    """The order's deadline has passed: marked overdue and late, and a step tells its centre
    and the supervisor on duty (the page shows it; no alarm, no escalation). False if it was
    already reported or has moved on."""
    if order.status not in OPEN_WORK_ORDER_STATUSES or order.overdue_at is not None:
        return False
    if order.due_at is None or order.due_at > now:
        return False
    order.overdue_at = now
    order.late = True
    deadline = {S.NEW: "accept", S.ACCEPTED: "schedule", S.SCHEDULED: "done"}[order.status]
    if order.category is WorkOrderCategory.MAINTENANCE:
        deadline = "fix"  # a device's order has one deadline: fixed by then
    repository.add_step(
        session, order, "overdue", actor="work-order-check", at=now, deadline=deadline,
        due_at=_iso(order.due_at), centre=order.centre_code, supervisor_id=supervisor_id,
    )  # fmt: skip
    await _audit(
        session, order, "work-order-check", "work_order.overdue", deadline=deadline,
        supervisor=supervisor_id,
    )  # fmt: skip
    return True


async def add_provider(session: AsyncSession, body: ProviderCreate, *, by: str) -> ServiceProvider:
    """A provider or volunteer on the list."""
    if body.centre_code is not None and await session.get(Centre, body.centre_code) is None:
        raise UnknownCentreError(f"there is no centre {body.centre_code}")
    provider = ServiceProvider(
        name=body.name,
        kind=body.kind,
        phone=body.phone or None,
        centre_code=body.centre_code,
        needs=[need.value for need in body.needs],
        active=True,
    )
    session.add(provider)
    await session.flush()
    await audit.record(
        session, actor=by, action="provider.added", subject_type="service_provider",
        subject_id=provider.id, detail={"kind": body.kind.value, "centre": body.centre_code},
    )  # fmt: skip
    return provider


async def set_provider_active(
    session: AsyncSession, provider: ServiceProvider, active: bool, *, by: str
) -> None:
    """Take a provider off the list (kept on the orders that name them), or back on it."""
    provider.active = active
    await audit.record(
        session, actor=by, action="provider.changed", subject_type="service_provider",
        subject_id=provider.id, detail={"active": active},
    )  # fmt: skip


def build_report(
    orders: list[WorkOrder], since: dt.datetime, until: dt.datetime
) -> WorkOrderReport:
    """Requests of a period, overall, by need and by centre: how many were done (on time),
    cancelled, unreachable, and how many are still open and overdue."""
    by_need: dict[str, list[WorkOrder]] = {}
    by_centre: dict[str, list[WorkOrder]] = {}
    for order in orders:
        by_need.setdefault(order.need or "unsaid", []).append(order)
        by_centre.setdefault(order.centre_code, []).append(order)
    return WorkOrderReport(
        since=since,
        until=until,
        overall=_counts("all", orders),
        by_need=[_counts(key, by_need[key]) for key in sorted(by_need)],
        by_centre=[_counts(key, by_centre[key]) for key in sorted(by_centre)],
    )


def _counts(key: str, orders: list[WorkOrder]) -> OrderCounts:
    done = [o for o in orders if o.status is S.DONE]
    on_time = sum(not o.late for o in done)
    return OrderCounts(
        key=key,
        requests=len(orders),
        done=len(done),
        done_on_time=on_time,
        cancelled=sum(o.status is S.CANCELLED for o in orders),
        unreachable=sum(o.status is S.UNREACHABLE for o in orders),
        open=sum(o.status in OPEN_WORK_ORDER_STATUSES for o in orders),
        overdue=sum(
            o.status in OPEN_WORK_ORDER_STATUSES and o.overdue_at is not None for o in orders
        ),
        share_on_time=on_time / len(done) if done else None,
    )


def _still_open(order: WorkOrder) -> None:
    if order.status not in OPEN_WORK_ORDER_STATUSES:
        raise WorkOrderClosedError(f"work order {order.id} is {order.status.value}")


def _moving_on(order: WorkOrder, now: dt.datetime) -> None:
    """The order leaves its status: a deadline already passed makes it late, even if the check
    has not come round yet; the next status has a deadline of its own, not yet overdue."""
    if order.due_at is not None and order.due_at < now:
        order.late = True
    order.overdue_at = None


async def _provider_for(
    session: AsyncSession, order: WorkOrder, body: ScheduleRequest
) -> ServiceProvider | None:
    if body.provider_kind is ProviderKind.CENTRE:
        return None
    provider = await session.get(ServiceProvider, body.provider_id) if body.provider_id else None
    if (
        provider is None
        or not provider.active
        or provider.kind is not body.provider_kind
        or provider.centre_code not in (None, order.centre_code)
    ):
        raise UnknownProviderError(
            f"no active {body.provider_kind.value} {body.provider_id} serves this centre"
        )
    return provider


async def _tell_terminal(session: AsyncSession, order: WorkOrder, text: str) -> None:
    """A notice for the terminal whose key asked for the order (the gateway sends it)."""
    if order.device_id is None:
        return
    if await repository.device_kind(session, order.device_id) is not DeviceKind.SOS_TERMINAL:
        return
    session.add(DeviceNotice(device_id=order.device_id, work_order_id=order.id, text=text))


async def _audit(
    session: AsyncSession, order: WorkOrder, by: str, action: str, **detail: Any
) -> None:
    await audit.record(
        session, actor=by, action=action, subject_type="work_order", subject_id=order.id,
        detail=detail,
    )  # fmt: skip


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
