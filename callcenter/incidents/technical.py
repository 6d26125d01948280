"""Technical alarms (P4): a device offline, a battery running down, a power cut, a panel on
its battery because its mains went.

A terminal that is offline cannot call for help, so its silence is a matter for someone, but
not at once (links drop and come back) and not one alarm per device when a whole building goes
dark: many devices of one community dropping within a short window become one power-cut
incident. Technical alarms are not chased by the 60-second escalation; they close themselves
("recovered") when every device they are about is back before anyone took them on.

A device counts as dropped at its last sign of life (`last_seen_at`); it is covered by a
technical incident opened since then (its own, or its community's power cut), so a device
that stays offline is reported once, not every sweep. Devices of an elder marked deceased or
moved away raise nothing: their terminals are being collected.

An alarm panel reporting over SIA DC-09 says itself that its mains are lost or its battery is
low (kept on its account by the receiver, gateway/dc09/): mains lost raises one alarm while it
lasts, closed as recovered when the panel reports them back before anyone took it on; a low
battery is reported like a terminal's, once a day while it lasts.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.incidents import repository
from callcenter.incidents.service import raise_incident
from callcenter.workorders.maintenance import check_maintenance
from kernel.database import write_turn
from kernel.models import (
    OPEN_STATUSES,
    AlarmReceiverAccount,
    Device,
    Elder,
    Incident,
    IncidentEntry,
    IncidentKind,
    IncidentStatus,
    Outcome,
    utcnow,
)
from kernel.models.elders import LifeStatus
from kernel.settings import Settings
from kernel.stopping import Stopping

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Dropped:
    """A device that went offline and stayed so."""

    device_id: str
    elder_id: int
    community: str
    home: tuple[float, float]
    at: dt.datetime


async def dropped_devices(
    session: AsyncSession, settings: Settings, now: dt.datetime
) -> list[Dropped]:
    """Devices offline longer than the grace period and not yet covered by an incident."""
    cutoff = now - dt.timedelta(seconds=settings.technical_offline_grace_s)
    rows = await session.execute(
        select(Device.id, Device.elder_id, Elder.community_code, Elder.lat, Elder.lon,
               Device.last_seen_at)
        .join(Elder, Elder.id == Device.elder_id)
        .where(Device.online.is_(False), Device.last_seen_at <= cutoff,
               Elder.life_status == LifeStatus.ACTIVE)
    )  # fmt: skip
    candidates = [
        Dropped(device, elder, community, (lat, lon), seen)
        for device, elder, community, lat, lon, seen in rows
        if elder is not None and seen is not None
    ]
    if not candidates:
        return []
    earliest = min(c.at for c in candidates) - dt.timedelta(seconds=settings.power_cut_window_s)
    recent = (
        await session.execute(
            select(Incident.id, Incident.group_key, Incident.opened_at).where(
                Incident.kind == IncidentKind.TECHNICAL, Incident.opened_at >= earliest
            )
        )
    ).all()
    own: dict[str, dt.datetime] = {}
    power_ids = []
    for incident_id, key, opened in recent:
        if key and key.startswith("offline:"):
            own[key] = max(opened, own.get(key, opened))
        elif key and key.startswith("power:"):
            power_ids.append(incident_id)
    listed: set[str] = set()
    if power_ids:
        details = await session.scalars(
            select(IncidentEntry.detail).where(IncidentEntry.incident_id.in_(power_ids))
        )
        for detail in details:
            listed.update(detail.get("devices") or ())

    def covered(drop: Dropped) -> bool:
        mine = own.get(f"offline:{drop.device_id}")
        return drop.device_id in listed or (mine is not None and mine >= drop.at)

    return [c for c in candidates if not covered(c)]


def power_cuts(
    drops: list[Dropped], settings: Settings
) -> tuple[dict[str, list[Dropped]], list[Dropped]]:
    """Split drops into power cuts (enough of one community within the window) and the rest."""
    by_community: dict[str, list[Dropped]] = defaultdict(list)
    for drop in drops:
        by_community[drop.community].append(drop)
    window = dt.timedelta(seconds=settings.power_cut_window_s)
    cuts: dict[str, list[Dropped]] = {}
    alone: list[Dropped] = []
    for community, group in by_community.items():
        group.sort(key=lambda d: d.at)
        best: list[Dropped] = []
        start = 0
        for end, drop in enumerate(group):
            while drop.at - group[start].at > window:
                start += 1
            if end - start + 1 > len(best):
                best = group[start : end + 1]
        if len(best) >= settings.power_cut_min_devices:
            cuts[community] = best
            alone.extend(d for d in group if d not in best)
        else:
            alone.extend(group)
    return cuts, alone


async def check_devices(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: dt.datetime
) -> list[int]:
    """Raise what the devices' state calls for, and close what recovered; returns touched ids."""
    async with sessions() as session:
        drops = await dropped_devices(session, settings, now)
        low = await _low_batteries(session, settings, now)
        panel_troubles = await _panel_troubles(session, now)
        ongoing = await _ongoing_power_cuts(session, settings, drops)
    joining = [d for d in drops if d.community in ongoing]
    cuts, alone = power_cuts([d for d in drops if d.community not in ongoing], settings)
    for drop in joining:
        cuts.setdefault(drop.community, []).append(drop)
    touched: list[int] = []
    for community, group in cuts.items():
        async with write_turn(sessions), sessions() as session, session.begin():
            touched.append(await _power_cut(session, community, group, settings, now))
    for drop in alone:
        async with write_turn(sessions), sessions() as session, session.begin():
            incident = await raise_incident(
                session, IncidentKind.TECHNICAL, settings, now, elder_id=drop.elder_id,
                device_id=drop.device_id, group_key=f"offline:{drop.device_id}",
                reason="device_offline", devices=[drop.device_id], since=drop.at.isoformat(),
                summary=f"设备 {drop.device_id} 离线，老人按键可能无法呼叫",
            )  # fmt: skip
            touched.append(incident.id)
    for device_id, elder_id, battery in low:
        async with write_turn(sessions), sessions() as session, session.begin():
            incident = await raise_incident(
                session, IncidentKind.TECHNICAL, settings, now, elder_id=elder_id,
                device_id=device_id, group_key=f"battery:{device_id}", reason="battery_low",
                devices=[device_id], battery=battery,
                summary=f"设备 {device_id} 电量 {battery}%，请安排更换电池或充电",
            )  # fmt: skip
            touched.append(incident.id)
    for trouble in panel_troubles:
        async with write_turn(sessions), sessions() as session, session.begin():
            incident = await raise_incident(
                session, IncidentKind.TECHNICAL, settings, now, elder_id=trouble.elder_id,
                device_id=trouble.device_id, group_key=f"{trouble.reason_key}:{trouble.device_id}",
                reason=trouble.reason, devices=[trouble.device_id], since=trouble.since.isoformat(),
                summary=trouble.summary,
            )  # fmt: skip
            touched.append(incident.id)
    touched.extend(await _close_recovered(sessions, now))
    touched.extend(await _close_mains_restored(sessions, now))
    return touched


async def _ongoing_power_cuts(
    session: AsyncSession, settings: Settings, drops: list[Dropped]
) -> set[str]:
    """Communities with an open power cut that these drops belong to (in its window or after)."""
    if not drops:
        return set()
    window = dt.timedelta(seconds=settings.power_cut_window_s)
    rows = await session.execute(
        select(Incident.group_key, IncidentEntry.detail)
        .join(IncidentEntry, IncidentEntry.incident_id == Incident.id)
        .where(
            Incident.group_key.in_({f"power:{d.community}" for d in drops}),
            Incident.status.in_(OPEN_STATUSES),
            IncidentEntry.action == "opened",
        )
    )
    # Devices dropping from a window before the cut's first drop on are the same outage.
    since = {
        key.removeprefix("power:"): dt.datetime.fromisoformat(detail["since"]) - window
        for key, detail in rows
        if key and detail.get("since")
    }
    return {d.community for d in drops if d.community in since and d.at >= since[d.community]}


async def _power_cut(
    session: AsyncSession,
    community: str,
    group: list[Dropped],
    settings: Settings,
    now: dt.datetime,
) -> int:
    """One incident for a community's devices dropping together (joined if one is open)."""
    devices = [d.device_id for d in group]
    key = f"power:{community}"
    current = await session.scalar(
        select(Incident).where(Incident.group_key == key, Incident.status.in_(OPEN_STATUSES))
    )
    if current is not None:
        repository.add_entry(session, current, "more_devices_offline", devices=devices)
        return current.id
    incident = await raise_incident(
        session, IncidentKind.TECHNICAL, settings, now, elder_id=None, device_id=None,
        home=group[0].home, group_key=key, reason="power_cut", devices=devices,
        since=group[0].at.isoformat(),
        summary=f"{community} 社区 {len(devices)} 台设备在 {settings.power_cut_window_s} 秒内"
        "同时离线，疑似停电或断网",
    )  # fmt: skip
    return incident.id


async def _low_batteries(
    session: AsyncSession, settings: Settings, now: dt.datetime
) -> list[tuple[str, int, int]]:
    """(device, elder, battery) for low batteries not reported in the last day."""
    day_ago = now - dt.timedelta(days=1)
    reported = select(Incident.group_key).where(
        Incident.kind == IncidentKind.TECHNICAL,
        Incident.opened_at >= day_ago,
        Incident.group_key.like("battery:%"),
    )
    rows = await session.execute(
        select(Device.id, Device.elder_id, Device.battery)
        .join(Elder, Elder.id == Device.elder_id)
        .where(
            Device.online.is_(True),
            Elder.life_status == LifeStatus.ACTIVE,
            Device.battery < settings.battery_low_pct,
            ("battery:" + Device.id).not_in(reported),
        )
    )
    return [
        (device, elder, battery)
        for device, elder, battery in rows
        if elder is not None and battery is not None
    ]


@dataclass(frozen=True, slots=True)
class PanelTrouble:
    """What an alarm panel reported of itself and nobody has been told of yet."""

    device_id: str
    elder_id: int
    reason: str  # the timeline's word: mains_lost, battery_low
    reason_key: str  # the group key's prefix: one alarm per device and trouble
    since: dt.datetime
    summary: str


async def _panel_troubles(session: AsyncSession, now: dt.datetime) -> list[PanelTrouble]:
    """Panels' mains lost (not yet raised since they went) and low batteries (not reported in
    the last day), of active elders."""
    day_ago = now - dt.timedelta(days=1)
    raised = await session.execute(
        select(Incident.group_key, Incident.opened_at).where(
            Incident.kind == IncidentKind.TECHNICAL,
            Incident.group_key.like("mains:%")
            | (Incident.group_key.like("battery:%") & (Incident.opened_at >= day_ago)),
        )
    )
    latest: dict[str, dt.datetime] = {}
    for key, opened in raised:
        if key is not None:  # matched by the LIKE above; said for the type checker
            latest[key] = max(opened, latest.get(key, opened))
    rows = await session.execute(
        select(
            AlarmReceiverAccount.device_id,
            Device.elder_id,
            AlarmReceiverAccount.mains_lost_since,
            AlarmReceiverAccount.battery_low_since,
        )
        .join(Device, Device.id == AlarmReceiverAccount.device_id)
        .join(Elder, Elder.id == Device.elder_id)
        .where(
            Elder.life_status == LifeStatus.ACTIVE,
            AlarmReceiverAccount.mains_lost_since.is_not(None)
            | AlarmReceiverAccount.battery_low_since.is_not(None),
        )
    )
    troubles = []
    for device_id, elder_id, mains_lost, battery_low in rows:
        if elder_id is None:
            continue  # not after the join on the elder; said for the type checker
        mains_raised = latest.get(f"mains:{device_id}")
        if mains_lost is not None and (
            mains_raised is None or _aware(mains_raised) < _aware(mains_lost)
        ):
            troubles.append(PanelTrouble(
                device_id, elder_id, "mains_lost", "mains", mains_lost,
                f"报警主机 {device_id} 报告市电中断，正在用备用电池，请联系老人或家属",
            ))  # fmt: skip
        if battery_low is not None and f"battery:{device_id}" not in latest:
            troubles.append(PanelTrouble(
                device_id, elder_id, "battery_low", "battery", battery_low,
                f"报警主机 {device_id} 报告电池电量低，请安排更换电池",
            ))  # fmt: skip
    return troubles


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite gives moments back naive (they are stored in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


async def _close_mains_restored(
    sessions: async_sessionmaker[AsyncSession], now: dt.datetime
) -> list[int]:
    """Resolve mains-lost alarms whose panel reported its mains back, if nobody took them yet."""
    async with sessions() as session:
        restored = (
            await session.scalars(
                select(Incident.id)
                .join(AlarmReceiverAccount, AlarmReceiverAccount.device_id == Incident.device_id)
                .where(
                    Incident.kind == IncidentKind.TECHNICAL,
                    Incident.status.in_((IncidentStatus.NEW, IncidentStatus.ASSIGNED)),
                    Incident.group_key.like("mains:%"),
                    AlarmReceiverAccount.mains_lost_since.is_(None),
                )
            )
        ).all()
    closed = []
    for incident_id in restored:
        async with write_turn(sessions), sessions() as session, session.begin():
            fresh = await session.get(Incident, incident_id, with_for_update=True)
            if fresh is None or fresh.status not in (IncidentStatus.NEW, IncidentStatus.ASSIGNED):
                continue
            fresh.status = IncidentStatus.RESOLVED
            fresh.outcome = Outcome.RECOVERED.value
            fresh.resolved_at = now
            repository.add_entry(
                session, fresh, "resolved", actor="alarm-engine",
                outcome=Outcome.RECOVERED.value, devices=[fresh.device_id], note="市电已恢复",
            )  # fmt: skip
            closed.append(incident_id)
    return closed


async def _close_recovered(
    sessions: async_sessionmaker[AsyncSession], now: dt.datetime
) -> list[int]:
    """Resolve offline and power-cut alarms whose devices are all back, if nobody took them yet."""
    async with sessions() as session:
        open_ones = (
            await session.scalars(
                select(Incident).where(
                    Incident.kind == IncidentKind.TECHNICAL,
                    Incident.status.in_((IncidentStatus.NEW, IncidentStatus.ASSIGNED)),
                    Incident.group_key.like("offline:%") | Incident.group_key.like("power:%"),
                )
            )
        ).all()
        about: dict[int, set[str]] = defaultdict(set)
        if open_ones:
            entries = await session.execute(
                select(IncidentEntry.incident_id, IncidentEntry.detail).where(
                    IncidentEntry.incident_id.in_([i.id for i in open_ones])
                )
            )
            for incident_id, detail in entries:
                about[incident_id].update(detail.get("devices") or ())
        still_down = set(
            (
                await session.scalars(
                    select(Device.id).where(
                        Device.id.in_({d for ds in about.values() for d in ds}),
                        Device.online.is_(False),
                    )
                )
            ).all()
        )
    closed = []
    for incident in open_ones:
        if not about[incident.id] or about[incident.id] & still_down:
            continue
        async with write_turn(sessions), sessions() as session, session.begin():
            fresh = await session.get(Incident, incident.id, with_for_update=True)
            if fresh is None or fresh.status not in (IncidentStatus.NEW, IncidentStatus.ASSIGNED):
                continue
            fresh.status = IncidentStatus.RESOLVED
            fresh.outcome = Outcome.RECOVERED.value
            fresh.resolved_at = now
            fresh.onsite_due_at = None
            repository.add_entry(
                session, fresh, "resolved", actor="alarm-engine",
                outcome=Outcome.RECOVERED.value, devices=sorted(about[incident.id]),
                note="设备已全部恢复在线",
            )  # fmt: skip
            closed.append(incident.id)
    return closed


async def run_device_checks(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    stop: Stopping,
    clock: Callable[[], dt.datetime] = utcnow,
) -> None:
    """Until stopped: check devices for silence and flat batteries; the same round opens and
    closes the installer's maintenance orders (callcenter/workorders/maintenance.py)."""
    while not stop.is_set():
        try:
            await check_devices(sessions, settings, clock())
            await check_maintenance(sessions, settings, clock())
        except (SQLAlchemyError, OSError):
            log.exception("technical check failed; retrying")
        await stop.pause(settings.technical_check_every_s)
