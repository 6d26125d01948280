"""Every device's self-test, for the installer and the supervisor: a DC-09 panel by its periodic
test (1602 / RP), a protocol device by its heartbeat (its sign of life), with a summary per
community and the lines that need action apart from the devices never heard from.

A device bound to an elder and never heard from since is an installation not completed, not a
device gone quiet: in the demo 25,242 devices are registered and 300 simulated, and listing the
silent 24,942 first buried the few that reported and have now gone quiet or failed a test. So
each line has a `status` (on_time, overdue, failed, never_heard, in_store) and `needs_action`
(heard before, and now overdue, failed, on its backup battery or low on battery); the report
shows one of three sets (SelfTestShow), in an order that pages the same way while nothing
changes:

- action: by how long it has needed action (`action_since`, the oldest first), then device id;
- never_heard: by community, then device id;
- all: the action lines first (as above), then on time, never heard, in the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.workorders import repository
from callcenter.workorders.maintenance import test_due_at
from callcenter.workorders.repository import DeviceState
from callcenter.workorders.schemas import (
    DeviceSelfTest,
    SelfTestCounts,
    SelfTestReport,
    SelfTestShow,
    SelfTestStatus,
    SelfTestSummary,
)
from kernel.models import MaintenanceReason, as_utc
from kernel.settings import Settings

# Where each status falls in the `all` set, after the lines needing action.
_ALL_ORDER: dict[SelfTestStatus, int] = {
    "overdue": 1, "failed": 1, "on_time": 2, "never_heard": 3, "in_store": 4,
}  # fmt: skip
_LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)


def _status(*, bound: bool, heard: bool, failed: bool, overdue: bool) -> SelfTestStatus:
    if not bound:
        return "in_store"
    if failed:
        return "failed"
    if not heard:
        return "never_heard"
    return "overdue" if overdue else "on_time"


def self_test_of(
    state: DeviceState, open_orders: list[MaintenanceReason], settings: Settings, now: dt.datetime
) -> DeviceSelfTest:
    """One device's line of the self-test report: a DC-09 panel by its periodic test, a protocol
    device by its heartbeat (it has no test of its own: its beat is its sign of life)."""
    seen = as_utc(state.last_seen_at)
    bound = state.elder_id is not None
    if state.account is not None:
        last_test = as_utc(state.last_test_at)
        due = test_due_at(state)
        every = state.test_every_s
        overdue = due is not None and due < now
    else:
        last_test = seen
        due = None if seen is None else seen + dt.timedelta(seconds=settings.device_offline_after_s)
        every = settings.heartbeat_every_s
        overdue = bound and (due is None or due < now)
    heard = seen is not None or last_test is not None
    failed_at = as_utc(state.test_failed_at)
    mains = as_utc(state.mains_lost_since)
    panel_battery = as_utc(state.battery_low_since)
    beat_battery_low = state.battery is not None and state.battery < settings.battery_low_pct
    battery_low = beat_battery_low or panel_battery is not None
    status = _status(bound=bound, heard=heard, failed=failed_at is not None, overdue=overdue)
    since = [
        due if status == "overdue" else None, failed_at, mains, panel_battery,
        seen if beat_battery_low else None,
    ]  # fmt: skip
    needs_action = bound and heard and any(moment is not None for moment in since)
    return DeviceSelfTest(
        device_id=state.device_id, kind=state.kind, account=state.account,
        elder_id=state.elder_id, community_code=state.community_code, online=state.online,
        last_seen_at=seen, battery=state.battery, test_failed_at=failed_at,
        test_failure=state.test_failure, mains_lost_since=mains, battery_low_since=panel_battery,
        open_orders=open_orders, reports_over="protocol" if state.account is None else "dc09",
        test_every_s=every, last_test_at=last_test, test_due_at=due, test_overdue=overdue,
        status=status, battery_low=battery_low, needs_action=needs_action,
        action_since=min((m for m in since if m is not None), default=None) if needs_action else None,
    )  # fmt: skip


def summary_of(lines: Iterable[DeviceSelfTest], now: dt.datetime) -> SelfTestSummary:
    """The lines counted per community and in all; devices bound to nobody apart."""
    overall = SelfTestCounts(community_code=None)
    by_community: dict[str, SelfTestCounts] = {}
    in_store = 0
    for line in lines:
        if line.status == "in_store" or line.community_code is None:
            in_store += 1
            continue
        community = by_community.setdefault(
            line.community_code, SelfTestCounts(community_code=line.community_code)
        )
        heard = line.status != "never_heard"
        for counts in (overall, community):
            counts.devices += 1
            setattr(counts, line.status, getattr(counts, line.status) + 1)
            counts.needs_action += line.needs_action
            counts.mains_lost += heard and line.mains_lost_since is not None
            counts.battery_low += heard and line.battery_low
    return SelfTestSummary(
        as_of=now, overall=overall, in_store=in_store,
        by_community=[by_community[code] for code in sorted(by_community)],
    )  # fmt: skip


def _wanted(line: DeviceSelfTest, show: SelfTestShow) -> bool:
    if show is SelfTestShow.ACTION:
        return line.needs_action
    if show is SelfTestShow.NEVER_HEARD:
        return line.status == "never_heard"
    return True


def _order(line: DeviceSelfTest, show: SelfTestShow) -> tuple[Any, ...]:
    """A total order (the device id last), so that offsets page the same way."""
    if show is SelfTestShow.NEVER_HEARD:
        return (line.community_code or "", line.device_id)
    place = 0 if line.needs_action else _ALL_ORDER[line.status]
    since = line.action_since or _LATEST
    return (place, since, line.community_code or "", line.device_id)


async def self_test_report(
    session: AsyncSession,
    settings: Settings,
    now: dt.datetime,
    *,
    show: SelfTestShow,
    community: str | None,
    limit: int,
    offset: int = 0,
) -> SelfTestReport:
    """Every device's self-test, by community: the summary, and a page of the lines to show."""
    orders: dict[str, list[MaintenanceReason]] = {}
    for order in await repository.open_maintenance_orders(session):
        if order.device_id is not None and order.need in set(MaintenanceReason):
            orders.setdefault(order.device_id, []).append(MaintenanceReason(order.need))
    lines = [
        self_test_of(state, orders.get(state.device_id, []), settings, now)
        for state in await repository.all_device_states(session, community)
    ]
    shown = sorted(
        (line for line in lines if _wanted(line, show)), key=lambda line: _order(line, show)
    )
    return SelfTestReport(
        summary=summary_of(lines, now), show=show, community=community, total=len(shown),
        offset=offset, limit=limit, lines=shown[offset : offset + limit],
    )  # fmt: skip
