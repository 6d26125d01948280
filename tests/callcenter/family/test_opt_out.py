"""STOP / 退订 keeps a number out of non-emergency messages, recorded and honoured by the sender;
never out of an SOS about their parent unless an operator confirms it (audited); START / 订阅
lets the messages come again."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.family.sender import SmsGateway
from callcenter.pipeline.tasks import process_pending
from devices.ids import DeviceKind
from kernel.models import (
    AuditEntry,
    Device,
    FamilyOptOut,
    FamilyStep,
    Incident,
    Outcome,
    SmsState,
)
from kernel.settings import Settings
from tests.callcenter.family.conftest import (
    FIRST,
    SECOND,
    Family,
    Sessions,
    all_settled,
    messages,
    press,
    resolve,
    rounds_until,
    take,
    timeline,
)
from tests.callcenter.family.fake_twilio import FakeTwilio
from tests.callcenter.family.inbound import (
    family_steps,
    reply_settings,
    serving,
    sms_from,
    twilio_posts,
)
from tests.callcenter.family.test_replies import answered
from tests.callcenter.incidents.conftest import local, record


async def high_blood_pressure(
    sessions: Sessions, settings: Settings, family: Family, at: dt.datetime
) -> Incident:
    """A warning reading from the elder's monitor: a P2 vitals incident (a notice, no emergency)."""
    async with sessions() as session:
        elder_id = await session.scalar(select(Device.elder_id).where(Device.id == family.terminal))
        monitor = await session.scalar(
            select(Device.id).where(
                Device.elder_id == elder_id, Device.kind == DeviceKind.HEALTH_MONITOR
            )
        )
    assert monitor is not None
    await record(sessions, monitor, "vitals", bp_sys=165, bp_dia=102)
    await process_pending(sessions, settings, lambda: at)
    async with sessions() as session:
        incident = await session.scalar(select(Incident).order_by(Incident.id.desc()).limit(1))
    assert incident is not None and incident.priority == 2
    return incident


def bodies(fake: FakeTwilio, to: str) -> list[str]:
    return [m["body"] for m in fake.sent_to(to)]


async def opt_out(sessions: Sessions) -> FamilyOptOut:
    async with sessions() as session:
        return (await session.scalars(select(FamilyOptOut))).one()


async def audited(sessions: Sessions, action: str) -> list[AuditEntry]:
    async with sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await session.scalars(query)).all())


async def test_tuiding_keeps_a_number_out_of_notices_but_not_out_of_an_sos(
    sessions: Sessions,
    engine: AsyncEngine,
    sms_settings: Settings,
    fake: FakeTwilio,
    gateway: SmsGateway,
    family: Family,
) -> None:
    receiving = reply_settings(sms_settings, fake)
    at = local(sms_settings, 14)
    notice = await high_blood_pressure(sessions, sms_settings, family, at)
    # The son hears of the reading, and answers.
    at = await rounds_until(sessions, sms_settings, gateway, lambda: _sent(fake, FIRST, 1), at=at)
    async with serving(receiving, engine) as client:
        answer = await twilio_posts(client, sms_from(FIRST, "退订"))
    assert answered(answer.text) == [
        "【平湖街道呼叫中心】已退订通知短信；老人紧急求助时仍会通知您。回复“订阅”恢复。"
    ]
    stopped = await opt_out(sessions)
    assert (stopped.phone, stopped.opted_out, stopped.text) == (FIRST[3:], True, "退订")
    assert stopped.incident_id == notice.id and stopped.emergencies_confirmed_at is None
    assert [s.action for s in await family_steps(sessions, notice.id)] == ["family_opted_out"]
    (entry,) = await audited(sessions, "sms.opted_out")
    assert entry.detail["text"] == "退订" and FIRST[3:] not in str(entry.detail)

    # The notice's outcome is not sent to him: his sister hears it instead, and the timeline says so.
    await resolve(sessions, notice.id, at, Outcome.ASSISTANCE_GIVEN)
    at = await rounds_until(sessions, sms_settings, gateway, all_settled(sessions), at=at)
    assert len(bodies(fake, FIRST)) == 1
    assert bodies(fake, SECOND) == ["【平湖街道呼叫中心】王秀英的求助已处理完毕：社工已上门帮助。"]
    skipped = [e for e in await timeline(sessions, notice.id) if e.action == "sms_skipped"]
    assert {e.detail["reason"] for e in skipped} == {"对方已退订通知短信 (opted out: STOP)"}

    # An SOS about his mother still reaches him.
    sos = await press(sessions, sms_settings, family.terminal, at)
    await rounds_until(sessions, sms_settings, gateway, lambda: _sent(fake, FIRST, 2), at=at)
    assert "按下了紧急呼叫键" in bodies(fake, FIRST)[1]
    assert sos.priority == 1


async def test_an_operator_confirms_the_opt_out_for_emergencies_and_dingyue_undoes_it(
    sessions: Sessions,
    engine: AsyncEngine,
    sms_settings: Settings,
    fake: FakeTwilio,
    gateway: SmsGateway,
    family: Family,
) -> None:
    receiving = reply_settings(sms_settings, fake)
    at = local(sms_settings, 14)
    sos = await press(sessions, sms_settings, family.terminal, at)
    at = await rounds_until(sessions, sms_settings, gateway, lambda: _sent(fake, FIRST, 1), at=at)
    async with serving(receiving, engine) as client:
        await twilio_posts(client, sms_from(FIRST, "退订"))
        (listed,) = (await client.get(f"/api/sms/replies?incident={sos.id}")).json()
        assert listed["opt_out"]["opted_out"] and listed["opt_out"]["phone"] == "139****0001"
        url = f"/api/sms/opt-outs/{listed['opt_out']['id']}/emergencies"
        confirmed = [await client.post(url), await client.post(url)]  # a double click
    assert [c.status_code for c in confirmed] == [200, 200]
    assert confirmed[0].json()["emergencies_confirmed_at"] is not None
    (confirmation,) = await audited(sessions, "sms.opt_out_confirmed")
    assert confirmation.actor == "system" and confirmation.detail["text"] == "退订"
    steps = [e for e in await timeline(sessions, sos.id) if e.action == "family_opt_out_confirmed"]
    assert [e.actor for e in steps] == ["system"]  # the admin the client acts as

    # Who is coming: not to him now (his sister is told instead).
    await take(sessions, sos.id, at)
    at = await rounds_until(sessions, sms_settings, gateway, lambda: _sent(fake, SECOND, 1), at=at)
    assert len(bodies(fake, FIRST)) == 1 and "社工" in bodies(fake, SECOND)[0]
    ways = [m for m in await messages(sessions) if m.step is FamilyStep.ON_THE_WAY]
    assert [(m.phone, m.state) for m in ways] == [
        (FIRST[3:], SmsState.SKIPPED),
        (SECOND[3:], SmsState.ACCEPTED),
    ]

    # 订阅: back in, and the operator's confirmation goes with the opt-out.
    async with serving(receiving, engine) as client:
        answer = await twilio_posts(client, sms_from(FIRST, "订阅"))
        again = await client.post(url)
    assert answered(answer.text) == ["【平湖街道呼叫中心】已恢复接收通知短信。"]
    assert (again.status_code, again.json()["code"]) == (409, "not_opted_out")
    back = await opt_out(sessions)
    assert (back.opted_out, back.text, back.emergencies_confirmed_at) == (False, "订阅", None)
    await resolve(sessions, sos.id, at, Outcome.ASSISTANCE_GIVEN)
    await rounds_until(sessions, sms_settings, gateway, lambda: _sent(fake, FIRST, 2), at=at)
    assert "处理完毕" in bodies(fake, FIRST)[1]


@pytest.mark.parametrize(
    ("body", "extra"),
    [("STOP", {}), ("stop ", {}), ("停止发送", {"OptOutType": "STOP"})],
    ids=["stop", "stop-lower-case", "advanced-opt-out-keyword"],
)
async def test_twilio_s_own_opt_out_words_are_honoured_and_answered_by_twilio(
    sessions: Sessions,
    engine: AsyncEngine,
    sms_settings: Settings,
    fake: FakeTwilio,
    body: str,
    extra: dict[str, str],
) -> None:
    receiving = reply_settings(sms_settings, fake)
    async with serving(receiving, engine) as client:
        answer = await twilio_posts(client, sms_from(FIRST, body, **extra))
    assert answer.status_code == 200 and answered(answer.text) == []  # Twilio says it itself
    stopped = await opt_out(sessions)
    assert (stopped.opted_out, stopped.text) == (True, body)


async def _sent(fake: FakeTwilio, to: str, n: int) -> bool:
    return len(fake.sent_to(to)) >= n
