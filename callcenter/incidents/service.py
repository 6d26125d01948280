"""From a device event to an incident: open it, route it, join repeats, note an elder's cancel.

Handled so far: `sos`, `fall` (above a confidence bound), the green `service` key, and vital
readings (devices/vitals.py says what a reading means; the elder's own bounds override the
defaults), a door opening at night for an elder with dementia (wandering), and door activity
for the daytime welfare check (welfare.py). Sweeps that find silence open incidents through
`raise_incident` too: welfare checks (welfare.py) and technical alarms (technical.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from callcenter.family import service as family
from callcenter.incidents import repository
from callcenter.routing import repository as routing_repository
from callcenter.routing.service import route
from devices.vitals import Band, Thresholds, assess, describe, worst
from kernel import audit
from kernel.models import DeviceEvent, Incident, IncidentKind, IncidentStatus
from kernel.models.elders import LifeStatus
from kernel.settings import Settings

ALARMS = (IncidentKind.SOS, IncidentKind.FALL)
PRIORITY = {
    IncidentKind.SOS: 1,
    IncidentKind.FALL: 1,
    IncidentKind.SERVICE: 3,
    IncidentKind.WANDERING: 1,
    IncidentKind.WELFARE: 3,
    IncidentKind.TECHNICAL: 4,
}
TECHNICAL_PRIORITY = 4
DEMENTIA = "阿尔茨海默症"
VITALS_PRIORITY = {Band.CRITICAL: 1, Band.WARNING: 2}


def incident_kind(event: DeviceEvent, settings: Settings) -> IncidentKind | None:
    """Which incident an event raises, if any."""
    if event.type == "sos":
        return IncidentKind.SOS
    if event.type == "fall":
        confident = float(event.payload.get("confidence", 0)) >= settings.fall_confidence_min
        return IncidentKind.FALL if confident else None
    if event.type == "service":
        return IncidentKind.SERVICE
    return None


def is_routine_reading(
    type_: str,
    elder_id: int | None,
    payload: Mapping[str, Any],
    overrides: Mapping[str, Thresholds],
) -> bool:
    """Whether an event is a reading that handling would leave as it is: in the normal range by
    the elder's own bounds (`overrides`), or of a device bound to nobody. Judging such a
    reading is marking it judged, nothing more, whoever the elder is and whatever is open."""
    return type_ == "vitals" and (elder_id is None or not assess(payload, overrides))


async def handle_device_event(
    session: AsyncSession,
    event: DeviceEvent,
    settings: Settings,
    now: dt.datetime,
    *,
    departed: bool | None = None,
) -> Incident | None:
    """Apply one device event; returns the incident it opened or touched. Safe to repeat.

    `departed`: whether the event's elder is marked deceased or moved away, if the caller knows
    (the pipeline asks once a batch); None asks here.
    """
    if await repository.already_handled(session, event.id):
        return None
    if departed is None and event.elder_id is not None:
        elder = await repository.elder_profile(session, event.elder_id)
        departed = elder is not None and elder.life_status is not LifeStatus.ACTIVE
    if departed:
        return await _after_departure(session, event, settings, now)
    if event.type == "cancel":
        return await _cancel(session, event, settings, now, elder_id=event.elder_id)
    if event.type == "vitals":
        return await _vitals(session, event, settings, now)
    if event.type == "door":
        return await _door(session, event, settings, now)
    kind = incident_kind(event, settings)
    if kind is None:
        return None
    joinable = ALARMS if kind in ALARMS else (kind,)
    current = await repository.open_incident(
        session, elder_id=event.elder_id, device_id=event.device_id, kinds=joinable
    )
    if current is not None:
        repository.add_entry(
            session, current, "repeated", device_event_id=event.id, type=event.type
        )
        return current
    return await _open(session, event, kind, settings, now)


async def _after_departure(
    session: AsyncSession, event: DeviceEvent, settings: Settings, now: dt.datetime
) -> Incident | None:
    """An event from a device of an elder marked deceased or moved away: recorded, and nothing
    raised in their name (no reading, door, green key, welfare or family SMS).

    A button pressed on their terminal is someone in that home calling for help, and an SOS is
    never dropped: it is handled as the call of a terminal bound to nobody (what the device is
    once unbound), at the street centre, with no name and no family told.
    """
    if event.type == "cancel":
        return await _cancel(session, event, settings, now, elder_id=None)
    kind = incident_kind(event, settings)
    if kind not in ALARMS:
        return None
    current = await repository.open_incident(
        session, elder_id=None, device_id=event.device_id, kinds=ALARMS
    )
    if current is not None:
        repository.add_entry(
            session, current, "repeated", device_event_id=event.id, type=event.type
        )
        return current
    return await raise_incident(
        session, kind, settings, now, elder_id=None, device_id=event.device_id,
        device_event_id=event.id, type=event.type, unidentified_caller=True,
        registered_elder_departed=True,
    )  # fmt: skip


def is_night(moment: dt.datetime, settings: Settings) -> bool:
    """Whether a moment falls in the street's night (local time, across midnight)."""
    local = moment.astimezone(settings.tz).time()
    starts, ends = (
        dt.time.fromisoformat(settings.night_starts),
        dt.time.fromisoformat(settings.night_ends),
    )
    return local >= starts or local < ends if starts > ends else starts <= local < ends


async def _door(
    session: AsyncSession, event: DeviceEvent, settings: Settings, now: dt.datetime
) -> Incident | None:
    """A door opening at night at the home of an elder with dementia: a wandering alarm."""
    await repository.door_moved(session, event)
    if event.elder_id is not None:
        welfare = await repository.open_incident(
            session,
            elder_id=event.elder_id,
            device_id=event.device_id,
            kinds=(IncidentKind.WELFARE,),
        )
        if welfare is not None and not await repository.has_entry(
            session, welfare, "door_activity"
        ):
            repository.add_entry(
                session, welfare, "door_activity", state=event.payload.get("state"),
                sensed_at=event.received_at.isoformat(),
            )  # fmt: skip
    if (
        event.elder_id is None
        or event.payload.get("state") != "open"
        or not is_night(now, settings)
    ):
        return None
    elder = await repository.elder_profile(session, event.elder_id)
    if elder is None or DEMENTIA not in elder.conditions:
        return None
    if await repository.is_away(session, event.elder_id, now):
        return None  # away (in hospital, with family): the door is someone else's business
    current = await repository.open_incident(
        session, elder_id=event.elder_id, device_id=event.device_id, kinds=(IncidentKind.WANDERING,)
    )
    if current is not None:
        repository.add_entry(session, current, "door", device_event_id=event.id, state="open")
        return current
    return await _open(session, event, IncidentKind.WANDERING, settings, now)


async def _vitals(
    session: AsyncSession, event: DeviceEvent, settings: Settings, now: dt.datetime
) -> Incident | None:
    """An abnormal reading opens one incident per elder; later readings update it, not repeat it."""
    if event.elder_id is None:
        return None
    overrides = await repository.vital_overrides(session, event.elder_id)
    findings = assess(event.payload, overrides)
    if not findings:
        return None
    band = worst(findings)
    summary = "；".join(describe(f) for f in findings)
    current = await repository.open_incident(
        session, elder_id=event.elder_id, device_id=event.device_id, kinds=(IncidentKind.VITALS,)
    )
    if current is not None:
        if VITALS_PRIORITY[band] < current.priority:
            current.priority = VITALS_PRIORITY[band]  # worse now: more urgent, not a new alarm
        repository.add_entry(
            session, current, "reading", device_event_id=event.id, band=band.value, summary=summary
        )
        return current
    return await _open(
        session, event, IncidentKind.VITALS, settings, now,
        priority=VITALS_PRIORITY[band], band=band.value, summary=summary,
    )  # fmt: skip


async def _open(
    session: AsyncSession,
    event: DeviceEvent,
    kind: IncidentKind,
    settings: Settings,
    now: dt.datetime,
    *,
    priority: int | None = None,
    **detail: Any,
) -> Incident:
    return await raise_incident(
        session, kind, settings, now, elder_id=event.elder_id, device_id=event.device_id,
        device_event_id=event.id, priority=priority, type=event.type,
        unidentified_caller=event.elder_id is None, **detail,
    )  # fmt: skip


async def raise_incident(
    session: AsyncSession,
    kind: IncidentKind,
    settings: Settings,
    now: dt.datetime,
    *,
    elder_id: int | None,
    device_id: str | None,
    device_event_id: int | None = None,
    priority: int | None = None,
    home: tuple[float, float] | None = None,
    group_key: str | None = None,
    **detail: Any,
) -> Incident:
    """Open an incident, route it, and set its deadlines (a device event's or a sweep's finding)."""
    name = None
    if elder_id is not None:
        found = await repository.home_and_name(session, elder_id)
        if found is not None:
            home, name = home or found[0], found[1]
    decision = route(home, await routing_repository.centres_now(session, now))
    urgency = priority if priority is not None else PRIORITY[kind]
    incident = Incident(
        kind=kind,
        priority=urgency,
        status=IncidentStatus.ASSIGNED if decision.staff_id else IncidentStatus.NEW,
        elder_id=elder_id,
        device_id=device_id,
        centre_code=decision.centre_code,
        assigned_staff_id=decision.staff_id,
        routing=decision.explanation,
        opened_at=now,
        # Technical alarms wait for working hours' attention; everything else is chased.
        ack_due_at=(
            None
            if urgency >= TECHNICAL_PRIORITY
            else now + dt.timedelta(seconds=settings.ack_escalate_after_s)
        ),
        onsite_due_at=(
            now + dt.timedelta(seconds=settings.onsite_escalate_after_s) if urgency == 1 else None
        ),
        group_key=group_key,
    )
    session.add(incident)
    await session.flush()
    set_committed_value(incident, "elder_name", name)  # read above: no query for it again
    await family.alarm_opened(session, incident)
    # The steps that open it carry the incident's own moment: "opened" on the timeline is
    # opened_at, not the later moment the transaction happened to flush.
    repository.add_entry(
        session, incident, "opened", device_event_id=device_event_id, at=now, **detail
    )
    repository.add_entry(
        session,
        incident,
        "assigned" if decision.staff_id else "queued",
        at=now,
        centre=decision.centre_code,
        staff_id=decision.staff_id,
        routing=decision.explanation,
    )
    await audit.record(
        session,
        actor="alarm-engine",
        action="incident.opened",
        subject_type="incident",
        subject_id=incident.id,
        detail={"kind": kind.value, "centre": decision.centre_code, "staff": decision.staff_id},
    )
    return incident


async def _cancel(
    session: AsyncSession,
    event: DeviceEvent,
    settings: Settings,
    now: dt.datetime,
    *,
    elder_id: int | None,
) -> Incident | None:
    current = await repository.open_incident(
        session, elder_id=elder_id, device_id=event.device_id, kinds=ALARMS
    )
    if current is None:
        return None
    in_window = now - current.opened_at <= dt.timedelta(seconds=settings.cancel_window_s)
    if in_window:
        # Kept open: an operator calls back, in case the elder was made to cancel or is confused.
        current.cancelled_by_elder = True
    repository.add_entry(
        session,
        current,
        "cancelled_by_elder" if in_window else "late_cancel",
        device_event_id=event.id,
        ref=event.payload.get("ref"),
    )
    return current
