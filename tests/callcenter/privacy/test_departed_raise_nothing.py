"""An elder marked deceased or moved away stops alarming: their open incidents close with the
reason, waiting family SMS are skipped, their devices are unbound; their devices' events are
recorded and judged but raise nothing in their name, and the welfare and technical checks pass
them by. An SOS pressed on their terminal is still answered, as a caller nobody is bound to.
(SQLite and PostgreSQL.)"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from callcenter.incidents.escalation import escalate_unacknowledged
from callcenter.incidents.technical import check_devices
from callcenter.incidents.welfare import check_welfare
from callcenter.pipeline.tasks import process_pending
from kernel.models import (
    AuditEntry,
    Device,
    DeviceEvent,
    Elder,
    FamilyMessage,
    Incident,
    IncidentEntry,
    IncidentStatus,
    LivingSituation,
    SmsState,
)
from kernel.models.elders import LifeStatus
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import Sessions, incidents, local
from tests.callcenter.privacy.conftest import Street, mark_departed, record


async def test_recording_a_death_closes_open_incidents_skips_sms_and_unbinds_devices(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, street.leaving, "sos", button="main")
    await record(sessions, street.staying_terminal, street.staying, "sos", button="main")
    assert await process_pending(sessions, settings, lambda: local(settings, 14)) == 2
    async with sessions() as session:
        waiting = await session.scalar(
            select(func.count())
            .select_from(FamilyMessage)
            .where(FamilyMessage.state == SmsState.PENDING)
        )
    assert waiting == 2  # one contact each

    change = await mark_departed(sessions, street.leaving)

    theirs, others = sorted(await incidents(sessions), key=lambda i: i.elder_id != street.leaving)
    assert change.closed_incidents == [theirs.id]
    assert (theirs.status, theirs.outcome, theirs.ack_due_at, theirs.onsite_due_at) == (
        IncidentStatus.CLOSED, "elder_deceased", None, None,
    )  # fmt: skip
    assert others.status is IncidentStatus.ASSIGNED  # nobody else's alarm is touched
    assert sorted(change.unbound_devices) == sorted([street.terminal, street.monitor, street.door])
    assert change.skipped_messages == 1
    async with sessions() as session:
        bound = await session.scalar(
            select(func.count()).select_from(Device).where(Device.elder_id == street.leaving)
        )
        states = dict(
            (
                await session.execute(
                    select(Incident.elder_id, FamilyMessage.state).join(
                        Incident, Incident.id == FamilyMessage.incident_id
                    )
                )
            ).all()
        )
        closed_step = await session.scalar(
            select(IncidentEntry.actor).where(
                IncidentEntry.incident_id == theirs.id, IncidentEntry.action == "closed"
            )
        )
        actions = set(
            (
                await session.scalars(
                    select(AuditEntry.action).where(AuditEntry.actor == "staff:2")
                )
            ).all()
        )
    assert bound == 0
    assert states == {street.leaving: SmsState.SKIPPED, street.staying: SmsState.PENDING}
    assert closed_step == "staff:2"
    assert actions == {"elder.life_status_set", "incident.status", "device.unbound"}
    # Nothing chases the closed one any more.
    later = local(settings, 14) + dt.timedelta(minutes=10)
    assert await escalate_unacknowledged(sessions, settings, later) == [others.id]


async def test_their_events_are_judged_and_raise_nothing_in_their_name(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await mark_departed(sessions, street.leaving, LifeStatus.MOVED_AWAY)
    # The gateway's copy of the registry still has the old binding for up to a minute.
    await record(sessions, street.monitor, street.leaving, "vitals", bp_sys=210, bp_dia=120)
    await record(sessions, street.terminal, street.leaving, "service", button="green")
    await record(sessions, street.door, street.leaving, "door", state="open")
    assert await process_pending(sessions, settings, lambda: local(settings, 2)) == 3
    assert await incidents(sessions) == []

    # A button pressed on the terminal is someone in that home: answered, as nobody's caller.
    await record(sessions, street.terminal, street.leaving, "sos", button="main")
    await record(sessions, street.terminal, None, "sos", button="main")  # after the refresh
    assert await process_pending(sessions, settings, lambda: local(settings, 14)) == 2
    (call,) = await incidents(sessions)
    assert (call.elder_id, call.device_id, call.centre_code) == (None, street.terminal, "PH00")
    async with sessions() as session:
        opened = await session.scalar(
            select(IncidentEntry.detail).where(
                IncidentEntry.incident_id == call.id, IncidentEntry.action == "opened"
            )
        )
        steps = await session.scalar(
            select(func.count())
            .select_from(IncidentEntry)
            .where(IncidentEntry.incident_id == call.id)
        )
        family = await session.scalar(select(func.count()).select_from(FamilyMessage))
        unjudged = await session.scalar(
            select(func.count()).select_from(DeviceEvent).where(DeviceEvent.judged_at.is_(None))
        )
    assert opened["unidentified_caller"] is True
    assert opened["registered_elder_departed"] is True
    assert steps == 3  # opened, assigned, and the second press joined it
    assert (family, unjudged) == (0, 0)  # no SMS to the family of someone who left


async def test_welfare_and_technical_checks_pass_a_departed_elder_by(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    """Even with devices still bound to them (a register re-import may bind them again)."""
    noon = local(settings, 12)
    long_ago = noon - dt.timedelta(hours=20)
    async with sessions() as session, session.begin():
        await session.execute(
            update(Elder)
            .where(Elder.id.in_([street.leaving, street.staying]))
            .values(living_situation=LivingSituation.ALONE)
        )
        await session.execute(
            update(Device)
            .where(Device.id == street.door)
            .values(
                online=True, last_seen_at=noon, last_activity_at=long_ago, registered_at=long_ago
            )
        )
        await session.execute(
            update(Device)
            .where(Device.id.in_([street.monitor, street.staying_terminal]))
            .values(online=False, last_seen_at=long_ago)
        )
        await session.execute(
            update(Device).where(Device.id == street.terminal).values(online=True, battery=5)
        )
        await session.execute(
            update(Elder).where(Elder.id == street.leaving).values(life_status=LifeStatus.DECEASED)
        )

    assert await check_welfare(sessions, settings, noon) == []
    (offline,) = await check_devices(sessions, settings, noon)
    (alarm,) = await incidents(sessions)
    assert (alarm.id, alarm.elder_id, alarm.device_id) == (
        offline, street.staying, street.staying_terminal,
    )  # fmt: skip
