"""Queries for the reports: incidents of a period with their first on-site step; device states;
every hop of the alarms timed (quantiles and targets counted in SQL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.incidents.callback import CALLBACK_REQUESTED_STEP
from callcenter.reports.schemas import DevicesOffline, HopCounts, IncidentFacts
from kernel.models import Device, DeviceEvent, Elder, Incident, IncidentEntry, IncidentKind
from kernel.models.incidents import MERGED_OUTCOME

# The alarms: what a device or a reading raised as a possible emergency, that somebody must
# answer within the TSA bar's minute. Welfare checks (nobody has heard from the elder for hours),
# service requests (the green key: a work order), vital-sign trends (a notice due in days) and
# technical alarms (the installer's work) are matters of their own, with no minute to meet.
ALARM_KINDS = (IncidentKind.SOS, IncidentKind.FALL, IncidentKind.VITALS, IncidentKind.WANDERING)
# A press is timed from the device's own clock only when that clock agrees with the gateway's:
# stamped no later than received (a clock ahead of the gateway's is wrong by definition) and at
# most five minutes before (a terminal retries an unacknowledged alarm for a few minutes; a stamp
# older than that is far likelier a clock adrift than a press that long on the way).
PRESS_CLOCK_MAX_S = 300
# The hops in the order an alarm travels them, each from one moment to the next.
HOPS = (
    "press_to_gateway",
    "gateway_to_console",
    "console_to_acknowledged",
    "acknowledged_to_en_route",
    "en_route_to_on_site",
    "on_site_to_resolved",
    "console_to_on_site",
)
OVERALL = "all"


def answer_counted() -> ColumnElement[bool]:
    """Whether an incident is an alarm call counted against the TSA bar (answered within 60 s /
    180 s): one definition for the report's shares, the hops report and the wall board.

    An alarm (ALARM_KINDS) counts once: not a duplicate merged into another case (the case it
    joined counts), and not an alarm the elder cancelled before anybody answered it (a call-back
    task, with its own deadline: an outgoing call, not an alarm answered). An alarm answered and
    then cancelled counts, with the moment it was answered."""
    cancelled_unanswered = exists().where(
        IncidentEntry.incident_id == Incident.id,
        IncidentEntry.action == CALLBACK_REQUESTED_STEP,
        or_(Incident.acknowledged_at.is_(None), IncidentEntry.at <= Incident.acknowledged_at),
    )
    return and_(
        Incident.kind.in_(ALARM_KINDS),
        or_(Incident.outcome.is_(None), Incident.outcome != MERGED_OUTCOME),
        or_(Incident.callback_due_at.is_(None), ~cancelled_unanswered),
    )


async def incidents_opened(
    session: AsyncSession, since: dt.datetime, until: dt.datetime
) -> list[IncidentFacts]:
    """Every incident opened in [since, until), oldest first, with when someone was first on site."""
    on_site = (
        select(IncidentEntry.incident_id, func.min(IncidentEntry.at).label("at"))
        .where(IncidentEntry.action == "on_site")
        .group_by(IncidentEntry.incident_id)
        .subquery()
    )
    rows = await session.execute(
        select(Incident, on_site.c.at, answer_counted())
        .outerjoin(on_site, on_site.c.incident_id == Incident.id)
        .where(Incident.opened_at >= since, Incident.opened_at < until)
        .order_by(Incident.opened_at, Incident.id)
    )
    facts = []
    for incident, on_site_at, counted in rows.all():
        if on_site_at is not None and on_site_at.tzinfo is None:
            on_site_at = on_site_at.replace(tzinfo=dt.UTC)  # a min() over SQLite text
        if isinstance(on_site_at, str):
            on_site_at = dt.datetime.fromisoformat(on_site_at).replace(tzinfo=dt.UTC)
        facts.append(
            IncidentFacts(
                id=incident.id,
                opened_at=incident.opened_at,
                centre_code=incident.centre_code,
                kind=incident.kind,
                priority=incident.priority,
                status=incident.status,
                acknowledged_at=incident.acknowledged_at,
                on_site_at=on_site_at,
                outcome=incident.outcome,
                counted=bool(counted),
            )
        )
    return facts


async def devices_offline(session: AsyncSession) -> list[DevicesOffline]:
    """Per community of the elders they serve: devices, how many dropped offline (seen online
    once), and how many were never seen at all (registered, not installed or never switched on)."""
    seen = Device.last_seen_at.is_not(None)
    rows = await session.execute(
        select(
            Elder.community_code,
            func.count(Device.id),
            func.count(Device.id).filter(Device.online.is_(False), seen),
            func.count(Device.id).filter(Device.last_seen_at.is_(None)),
        )
        .join(Elder, Elder.id == Device.elder_id)
        .group_by(Elder.community_code)
        .order_by(Elder.community_code)
    )
    return [
        DevicesOffline(community_code=code, devices=total, offline=offline, never_connected=never)
        for code, total, offline, never in rows.all()
    ]


def _seconds(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    """end - start in seconds, in SQL (PostgreSQL's intervals; SQLite's text timestamps)."""
    if dialect == "postgresql":
        return func.extract("epoch", end - start)
    # Rounded to the millisecond: julianday's doubles would put an ack at 60.000 s at 60.00004.
    return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)


def _alarm_seconds(dialect: str, since: dt.datetime, until: dt.datetime) -> Any:
    """One row per alarm counted (answer_counted) opened in [since, until): its centre and each hop's seconds (NULL where
    an end is missing, or the press's clock is not trusted)."""
    alarms = (
        select(
            Incident.id,
            Incident.centre_code,
            Incident.opened_at,
            Incident.acknowledged_at,
            Incident.resolved_at,
        )
        .where(
            Incident.opened_at >= since,
            Incident.opened_at < until,
            answer_counted(),
        )
        .cte("alarms")
    )
    # The steps of those alarms only, read once (by the timeline's incident index): the event
    # behind "opened", and the first "en_route" and "on_site" (a worker's phone and an operator
    # may both say so; the first one counts).
    step = IncidentEntry
    steps = (
        select(
            step.incident_id,
            func.max(step.device_event_id).filter(step.action == "opened").label("event_id"),
            func.min(step.at).filter(step.action == "en_route").label("en_route"),
            func.min(step.at).filter(step.action == "on_site").label("on_site"),
        )
        .where(
            step.incident_id.in_(select(alarms.c.id)),
            step.action.in_(("opened", "en_route", "on_site")),
        )
        .group_by(step.incident_id)
        .cte("steps")
    )
    press = _seconds(dialect, DeviceEvent.device_ts, DeviceEvent.received_at)
    trusted = press.between(0, PRESS_CLOCK_MAX_S)
    later = [
        (DeviceEvent.received_at, alarms.c.opened_at),
        (alarms.c.opened_at, alarms.c.acknowledged_at),
        (alarms.c.acknowledged_at, steps.c.en_route),
        (steps.c.en_route, steps.c.on_site),
        (steps.c.on_site, alarms.c.resolved_at),
        (alarms.c.opened_at, steps.c.on_site),
    ]
    columns = [case((trusted, press), else_=None).label(HOPS[0])] + [
        _seconds(dialect, start, end).label(hop)
        for hop, (start, end) in zip(HOPS[1:], later, strict=True)
    ]
    return (
        select(
            alarms.c.centre_code.label("centre"),
            *columns,
            and_(DeviceEvent.device_ts.is_not(None), ~trusted).label("clock_off"),
        )
        .select_from(alarms)
        .outerjoin(steps, steps.c.incident_id == alarms.c.id)
        .outerjoin(DeviceEvent, DeviceEvent.id == steps.c.event_id)
        .cte("alarm_seconds")
    )


async def hop_quantiles(
    session: AsyncSession, since: dt.datetime, until: dt.datetime
) -> dict[tuple[str, str], tuple[int, float | None, float | None]]:
    """(centre or "all", hop) -> (count, p50 s, p90 s) over the alarms opened in [since, until).

    Nearest-rank quantiles, in one query on SQLite and PostgreSQL alike: the smallest time whose
    rank within its centre and hop reaches p x count."""
    alarms = _alarm_seconds(session.get_bind().dialect.name, since, until)
    per_hop = [
        select(alarms.c.centre, literal(hop).label("hop"), alarms.c[hop].label("seconds")).where(
            alarms.c[hop].is_not(None)
        )
        for hop in HOPS
    ]
    timed = union_all(*per_hop).cte("timed")
    both = union_all(
        select(timed.c.centre, timed.c.hop, timed.c.seconds),
        select(literal(OVERALL).label("centre"), timed.c.hop, timed.c.seconds),
    ).subquery("both_levels")
    group = (both.c.centre, both.c.hop)
    ranked = select(
        both.c.centre,
        both.c.hop,
        both.c.seconds,
        func.row_number().over(partition_by=group, order_by=both.c.seconds).label("rank"),
        func.count().over(partition_by=group).label("n"),
    ).subquery("ranked")

    def quantile(p: float) -> ColumnElement[Any]:
        return func.min(case((ranked.c.rank >= p * ranked.c.n, ranked.c.seconds), else_=None))

    rows = await session.execute(
        select(ranked.c.centre, ranked.c.hop, func.count(), quantile(0.5), quantile(0.9)).group_by(
            ranked.c.centre, ranked.c.hop
        )
    )
    return {(centre, hop): (n, _float(p50), _float(p90)) for centre, hop, n, p50, p90 in rows.all()}


async def hop_targets(
    session: AsyncSession, since: dt.datetime, until: dt.datetime, on_site_target_s: int
) -> dict[str, HopCounts]:
    """Per centre: its alarms opened in [since, until), acknowledged within 60 s and 180 s,
    reached on site, reached within the target, and the presses whose clock was off."""
    alarms = _alarm_seconds(session.get_bind().dialect.name, since, until)
    ack, reached = alarms.c.console_to_acknowledged, alarms.c.console_to_on_site
    rows = await session.execute(
        select(
            alarms.c.centre,
            func.count(),
            func.count().filter(ack <= 60),
            func.count().filter(ack <= 180),
            func.count().filter(reached.is_not(None)),
            func.count().filter(reached <= on_site_target_s),
            func.count().filter(alarms.c.clock_off),
        ).group_by(alarms.c.centre)
    )
    return {centre: HopCounts(*counts) for centre, *counts in rows.all()}


def _float(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)
