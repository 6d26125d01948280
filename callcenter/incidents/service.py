"""From a device event to an incident: open it, route it, join it to the elder's open case, and
turn an elder's cancel into a call-back task (callback.py).

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
from callcenter.incidents import callback, repository
from callcenter.routing import repository as routing_repository
from callcenter.routing.service import route
from callcenter.workorders import service as work_orders
from devices.vitals import Band, Thresholds, assess, describe, worst
from kernel import audit
from kernel.models import (
    OPEN_STATUSES,
    DeviceEvent,
    Incident,
    IncidentKind,
    IncidentStatus,
)
from kernel.models.elders import LifeStatus
from kernel.models.incidents import CallbackResult
from kernel.settings import Settings

ALARMS = (IncidentKind.SOS, IncidentKind.FALL)
# One emergency of one elder is one case. An SOS, a confident fall, an abnormal vital sign (a
# vital-sign alarm is P1 or P2) or a wandering alarm of an elder who already has an open case of
# any of these kinds joins that case instead of opening a second incident sent to a second
# worker: it is a step on the case's timeline ("joined", or the kind's own step once that kind is
# in the case) and the case takes the more urgent priority. Not joined, each a matter of its own
# that an operator may merge by hand (merge.py): the green service key (a request, not an
# emergency), a welfare check (P3, nobody has heard from the elder for hours) and a technical
# alarm (P4, the installer's work). An unidentified caller's presses join by device, SOS and fall.
CASE_KINDS = (IncidentKind.SOS, IncidentKind.FALL, IncidentKind.VITALS, IncidentKind.WANDERING)
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
    if event.type == "service":  # the green key: a work order for the elder's centre, no alarm
        await work_orders.from_green_key(session, event, settings, now)
        return None
    kind = incident_kind(event, settings)
    if kind is None:
        return None
    if kind in ALARMS:
        case = await _open_case(session, event)
        if case is None:
            return await _open(session, event, kind, settings, now)
        return await _join(
            session, case, kind, PRIORITY[kind], settings, now, step="repeated",
            device_event_id=event.id, type=event.type,
        )  # fmt: skip
    current = await repository.open_incident(
        session, elder_id=event.elder_id, device_id=event.device_id, kinds=(kind,)
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
    case = await _open_case(session, event)
    if case is not None:
        return await _join(
            session, case, IncidentKind.WANDERING, PRIORITY[IncidentKind.WANDERING], settings, now,
            step="door", device_event_id=event.id, state="open",
        )  # fmt: skip
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
    case = await _open_case(session, event)
    if case is not None:  # worse now: more urgent, not a new alarm
        return await _join(
            session, case, IncidentKind.VITALS, VITALS_PRIORITY[band], settings, now,
            step="reading", device_event_id=event.id, band=band.value, summary=summary,
        )  # fmt: skip
    return await _open(
        session, event, IncidentKind.VITALS, settings, now,
        priority=VITALS_PRIORITY[band], band=band.value, summary=summary,
    )  # fmt: skip


async def _open_case(session: AsyncSession, event: DeviceEvent) -> Incident | None:
    """The open case a new alarm of this event's elder joins (an unidentified caller's: an SOS
    or fall of the same device)."""
    return await repository.open_case(
        session, elder_id=event.elder_id, device_id=event.device_id,
        kinds=CASE_KINDS if event.elder_id is not None else ALARMS,
    )  # fmt: skip


async def _join(
    session: AsyncSession,
    case: Incident,
    kind: IncidentKind,
    priority: int,
    settings: Settings,
    now: dt.datetime,
    *,
    step: str,
    device_event_id: int,
    **detail: Any,
) -> Incident:
    """Add an alarm of `kind` to the elder's open case: the kind's own `step` when the case is of
    that sort already (a press again, a reading, a door), else "joined" naming the kind; the more
    urgent priority; a call-back the elder's cancel asked for is withdrawn (the case goes on as
    an alarm), and a case now P1 is chased until someone is on site."""
    same = (
        kind == case.kind
        or (kind in ALARMS and case.kind in ALARMS)
        or kind.value in await repository.joined_kinds(session, case)
    )
    if not same:
        step = "joined"
        if detail.get("type") == kind.value:
            del detail["type"]  # said by the kind
        detail = {"kind": kind.value, **detail}
    if priority < case.priority:
        case.priority = priority
        detail["raised_to"] = priority
    withdrawn = callback.callback_owed(case)
    if withdrawn:
        detail["callback_withdrawn"] = True
    repository.add_entry(session, case, step, device_event_id=device_event_id, **detail)
    if withdrawn:
        await callback.resume_alarm(session, case, settings, now)
    elif (
        case.priority == 1
        and case.onsite_due_at is None
        and case.status in OPEN_STATUSES
        and case.status is not IncidentStatus.ON_SITE
    ):
        case.onsite_due_at = now + dt.timedelta(seconds=settings.onsite_escalate_after_s)
    return case


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
    """The elder's cancel key: in time, their SOS or fall alarm becomes a call-back task
    (callback.py); late, it is noted and the alarm goes on."""
    current = await repository.open_case(
        session, elder_id=elder_id, device_id=event.device_id,
        kinds=CASE_KINDS if elder_id is not None else ALARMS,
    )  # fmt: skip
    if current is None:
        return None
    ref = event.payload.get("ref")
    # The key takes back a press. An alarm the elder did not raise (a vital sign, a door at night)
    # stands, in a case of its own or joined to theirs; so does one a call back found needed help.
    others = await repository.joined_kinds(session, current) - {k.value for k in ALARMS}
    if current.kind not in ALARMS or others or current.callback_result == CallbackResult.NEEDS_HELP:
        repository.add_entry(session, current, "cancel_noted", device_event_id=event.id, ref=ref)
        return current
    # Alarms are judged ahead of every other event, so a cancel pressed before this case's press
    # (a stray one, or the end of an earlier alarm) can be judged after it: it takes back an
    # earlier press, never this one.
    pressed = await repository.first_press_received_at(session, current)
    if pressed is not None and event.received_at < pressed:
        repository.add_entry(session, current, "cancel_noted", device_event_id=event.id, ref=ref)
        return current
    if now - current.opened_at > dt.timedelta(seconds=settings.cancel_window_s):
        repository.add_entry(session, current, "late_cancel", device_event_id=event.id, ref=ref)
        return current
    await callback.request_callback(
        session, current, settings, now, device_event_id=event.id, ref=ref
    )
    return current
