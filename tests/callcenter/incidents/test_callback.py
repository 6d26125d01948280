"""An alarm the elder cancelled in time becomes a call-back task for the street's operators with
its own deadline, escalated only when the call-back is overdue; what the call found is recorded
and resolves the case or continues it as an alarm."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from callcenter.incidents.callback import record_callback
from callcenter.incidents.escalation import (
    escalate_not_on_site,
    escalate_overdue_callbacks,
    escalate_unacknowledged,
)
from callcenter.pipeline.tasks import process_pending
from eldercare.app import create_app
from kernel.database import create_engine, session_factory
from kernel.models import Incident, IncidentEntry, Shift, StaffMember, StaffRole
from kernel.models.incidents import CallbackResult
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import (
    Sessions,
    Street,
    act_as_member,
    incidents,
    local,
    make_street,
    record,
    staff,
)
from tests.callcenter.incidents.test_alarm_pipeline import monitor_of
from tests.databases import migrate_fresh
from tests.factories import acting_as


async def steps(sessions: Sessions) -> list[tuple[str, dict[str, object]]]:
    async with sessions() as session:
        query = select(IncidentEntry.action, IncidentEntry.detail).order_by(IncidentEntry.id)
        rows = (await session.execute(query)).all()
    return [(action, detail) for action, detail in rows if not action.startswith("sms")]


async def press_and_cancel(
    sessions: Sessions, settings: Settings, street: Street, cancel_after_s: float = 20
) -> dt.datetime:
    """An SOS at 14:00, cancelled this long after; returns the moment of the cancel."""
    pressed = local(settings, 14)
    await record(sessions, street.terminal, "sos", button="main")
    await process_pending(sessions, settings, lambda: pressed)
    cancelled = pressed + dt.timedelta(seconds=cancel_after_s)
    await record(sessions, street.terminal, "cancel", ref="m1")
    await process_pending(sessions, settings, lambda: cancelled)
    return cancelled


async def test_a_cancelled_sos_is_a_call_back_task_escalated_only_when_overdue(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    cancelled = await press_and_cancel(sessions, settings, street)
    (task,) = await incidents(sessions)
    due = cancelled + dt.timedelta(seconds=settings.callback_due_after_s)
    assert (task.cancelled_by_elder, task.callback_due_at, task.called_back_at) == (True, due, None)
    # Nobody had taken it: the street's operators call back; the community worker is not sent.
    operator = await staff(sessions, task.assigned_staff_id)
    assert (task.centre_code, operator.role, task.status) == (
        "PH00",
        StaffRole.OPERATOR,
        "assigned",
    )
    assert (task.ack_due_at, task.onsite_due_at) == (None, None)

    # Not chased as an unanswered alarm, nor for nobody on site.
    assert await escalate_unacknowledged(sessions, settings, due) == []
    assert await escalate_not_on_site(sessions, settings, due + dt.timedelta(hours=1)) == []
    # The call-back's own deadline: the supervisor at it, and again each interval.
    before = due - dt.timedelta(seconds=1)
    assert await escalate_overdue_callbacks(sessions, settings, before) == []
    assert await escalate_overdue_callbacks(sessions, settings, due) == [task.id]
    assert await escalate_overdue_callbacks(sessions, settings, due + dt.timedelta(seconds=1)) == []
    again = due + dt.timedelta(seconds=settings.callback_due_after_s)
    assert await escalate_overdue_callbacks(sessions, settings, again) == [task.id]

    (task,) = await incidents(sessions)
    supervisor = await staff(sessions, task.supervisor_staff_id)
    assert (supervisor.role, task.escalation_level) == (StaffRole.SUPERVISOR, 2)
    found = await steps(sessions)
    assert [action for action, _ in found] == [
        "opened", "assigned", "cancelled_by_elder", "callback_requested",
        "callback_overdue", "callback_overdue",
    ]  # fmt: skip
    requested, overdue = found[3][1], found[4][1]
    assert (requested["due"], requested["centre"], requested["staff_id"]) == (
        due.astimezone(dt.UTC).isoformat(), "PH00", operator.id,
    )  # fmt: skip
    assert (overdue["due"], overdue["supervisor_id"], overdue["street_operators_alerted"]) == (
        due.astimezone(dt.UTC).isoformat(), supervisor.id, True,
    )  # fmt: skip


async def test_a_press_after_the_cancel_withdraws_the_call_back_and_the_alarm_goes_on(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    cancelled = await press_and_cancel(sessions, settings, street)
    pressed_again = cancelled + dt.timedelta(seconds=40)
    await record(sessions, street.terminal, "sos", button="main")
    await process_pending(sessions, settings, lambda: pressed_again)
    (alarm,) = await incidents(sessions)
    worker = await staff(sessions, alarm.assigned_staff_id)
    assert (alarm.cancelled_by_elder, alarm.callback_due_at) == (False, None)
    assert (alarm.centre_code, worker.role) == ("PH03", StaffRole.COMMUNITY_WORKER)
    assert alarm.ack_due_at == pressed_again + dt.timedelta(seconds=settings.ack_escalate_after_s)
    assert alarm.onsite_due_at is not None
    assert await escalate_unacknowledged(sessions, settings, alarm.ack_due_at) == [alarm.id]
    found = await steps(sessions)
    assert [action for action, _ in found][4:] == ["repeated", "assigned", "escalated"]
    assert found[4][1] == {"type": "sos", "callback_withdrawn": True}


async def test_a_cancel_does_not_take_back_a_vital_sign_alarm_joined_to_the_case(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    monitor = await monitor_of(sessions, street)
    await record(sessions, street.terminal, "sos", button="main")
    await record(sessions, monitor, "vitals", bp_sys=186, bp_dia=114)
    await record(sessions, street.terminal, "cancel", ref="m1")
    await process_pending(sessions, settings, lambda: local(settings, 14))
    (case,) = await incidents(sessions)
    assert (case.cancelled_by_elder, case.callback_due_at) == (False, None)
    assert case.ack_due_at is not None  # still chased as the alarm it is
    assert [action for action, _ in await steps(sessions)][-1] == "cancel_noted"


async def test_a_late_cancel_is_noted_and_the_alarm_goes_on(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await press_and_cancel(sessions, settings, street, settings.cancel_window_s + 1)
    (alarm,) = await incidents(sessions)
    assert (alarm.cancelled_by_elder, alarm.callback_due_at, alarm.centre_code) == (
        False, None, "PH03",
    )  # fmt: skip
    assert [action for action, _ in await steps(sessions)][-1] == "late_cancel"


def cancelled_now(settings: Settings, tmp_path: Path) -> None:
    """The street in the settings' database, an SOS pressed and cancelled just now."""
    migrate_fresh(settings.effective_database_url)

    async def run() -> None:
        engine = create_engine(settings.effective_database_url)
        sessions = session_factory(engine)
        street = await make_street(sessions, settings, tmp_path)
        now = dt.datetime.now(dt.UTC)
        async with sessions() as session, session.begin():
            # Whatever the hour the test runs, a 禾花 worker is on duty.
            worker = await session.scalar(
                select(StaffMember.id).where(StaffMember.username == "ph03-w1")
            )
            session.add(Shift(staff_id=worker, centre_code="PH03", starts_at=now - dt.timedelta(hours=1),
                              ends_at=now + dt.timedelta(hours=2)))  # fmt: skip
        for type_, payload in (("sos", {"button": "main"}), ("cancel", {"ref": "m1"})):
            await record(sessions, street.terminal, type_, **payload)
            await process_pending(sessions, settings, lambda: dt.datetime.now(dt.UTC))
        await engine.dispose()

    asyncio.run(run())


@pytest.mark.parametrize(
    ("result", "outcome"),
    [("elder_fine", "false_alarm"), ("pressed_by_mistake", "accidental_press")],
)
def test_a_call_back_that_finds_no_emergency_resolves_the_case(
    settings: Settings, tmp_path: Path, result: str, outcome: str
) -> None:
    cancelled_now(settings, tmp_path)
    app = acting_as(create_app(settings, mqtt=False))
    with TestClient(app) as client:
        operator = act_as_member(settings, app, username="op1")
        (task,) = client.get("/api/incidents").json()
        assert task["callback_due_at"] is not None and task["called_back_at"] is None
        url = f"/api/incidents/{task['id']}"
        answer = client.post(f"{url}/callback", json={"result": result, "note": "老人说没事"})
        assert answer.status_code == 200, answer.text
        done = answer.json()
        assert (done["status"], done["outcome"], done["callback_result"]) == (
            "resolved", outcome, result,
        )  # fmt: skip
        me = f"staff:{operator.staff_id}"
        mine = [
            (e["action"], e["detail"].get("result")) for e in done["timeline"] if e["actor"] == me
        ]
        assert mine == [("called_back", result), ("acknowledged", None), ("resolved", None)]
        again = client.post(f"{url}/callback", json={"result": result})
        assert (again.status_code, again.json()["code"]) == (409, "no_callback_owed")
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        audited = db.execute(
            "SELECT actor, detail FROM audit_log WHERE action = 'incident.called_back'"
        ).fetchall()
    assert [(actor, f'"result": "{result}"' in detail) for actor, detail in audited] == [(me, True)]


def test_a_call_back_that_finds_the_elder_needs_help_continues_the_alarm(
    settings: Settings, tmp_path: Path
) -> None:
    cancelled_now(settings, tmp_path)
    app = acting_as(create_app(settings, mqtt=False))
    with TestClient(app) as client:
        act_as_member(settings, app, username="op1")
        (task,) = client.get("/api/incidents").json()
        url = f"/api/incidents/{task['id']}"
        answer = client.post(f"{url}/callback", json={"result": "needs_help", "note": "说胸口痛"})
        assert answer.status_code == 200, answer.text
        alarm = answer.json()
        # Sent to the nearest worker on duty as a new alarm is, the minute running again.
        assert (alarm["status"], alarm["centre_code"], alarm["cancelled_by_elder"]) == (
            "assigned", "PH03", False,
        )  # fmt: skip
        assert alarm["acknowledged_at"] is None and alarm["ack_due_at"] is not None
        steps = [e["action"] for e in alarm["timeline"] if e["actor"] != "sms"]
        assert steps[-2:] == ["called_back", "assigned"]
        refused = client.post(f"{url}/callback", json={"result": "elder_fine"})
        assert (refused.status_code, refused.json()["code"]) == (409, "no_callback_owed")


async def test_a_cancel_after_a_call_back_found_the_elder_needs_help_is_only_noted(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    cancelled = await press_and_cancel(sessions, settings, street)
    called = cancelled + dt.timedelta(minutes=2)
    async with sessions() as session, session.begin():
        (task,) = (await session.scalars(select(Incident))).all()
        operator = task.assigned_staff_id
        assert operator is not None
        await record_callback(
            session, task, CallbackResult.NEEDS_HELP, staff_id=operator, note="",
            settings=settings, now=called,
        )  # fmt: skip
    await record(sessions, street.terminal, "cancel", ref="m2")
    await process_pending(sessions, settings, lambda: called + dt.timedelta(seconds=30))
    (alarm,) = await incidents(sessions)
    assert (alarm.cancelled_by_elder, alarm.callback_result) == (False, "needs_help")
    assert alarm.ack_due_at == called + dt.timedelta(seconds=settings.ack_escalate_after_s)
    assert [action for action, _ in await steps(sessions)][-3:] == [
        "called_back", "assigned", "cancel_noted",
    ]  # fmt: skip
