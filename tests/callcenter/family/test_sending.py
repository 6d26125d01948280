"""Family SMS through the real twilio client to a local fake of Twilio: once, retried, fallen over."""

from __future__ import annotations

from pathlib import Path

from callcenter.family.sender import OutboxGateway, SmsGateway
from kernel.models import FamilyStep, Outcome, SmsState
from kernel.settings import Settings
from tests.callcenter.family.conftest import (
    FIRST,
    SECOND,
    Family,
    Sessions,
    all_settled,
    make_family,
    messages,
    press,
    resolve,
    rounds_until,
    take,
    timeline,
)
from tests.callcenter.family.fake_twilio import FakeTwilio
from tests.callcenter.incidents.conftest import local


def sent_count(fake: FakeTwilio, to: str, n: int):  # type: ignore[no-untyped-def]
    """A `done` check: this many messages created for this number."""

    async def done() -> bool:
        return len(fake.sent_to(to)) >= n

    return done


async def test_an_sos_tells_the_first_contact_once_then_who_is_coming_then_how_it_ended(
    sessions: Sessions,
    sms_settings: Settings,
    gateway: SmsGateway,
    fake: FakeTwilio,
    family: Family,
) -> None:
    at = local(sms_settings, 14)
    incident = await press(sessions, sms_settings, family.terminal, at)
    await press(sessions, sms_settings, family.terminal, at)  # a repeat joins the incident
    at = await rounds_until(sessions, sms_settings, gateway, sent_count(fake, FIRST, 1), at=at)
    (sent,) = fake.sent_to(FIRST)
    assert sent["body"] == (
        "【平湖街道呼叫中心】王秀英于14:00按下了紧急呼叫键，我们正在派人上门。您去请回1，去不了回2。"
    )
    assert sent["from"] == "+15005550006" and fake.sent_to(SECOND) == []
    opened = [m for m in await messages(sessions) if m.step is FamilyStep.OPENED]
    assert [(m.contact_rank, m.state) for m in opened] == [
        (1, SmsState.ACCEPTED),
        (2, SmsState.PENDING),
    ]
    sms_lines = [e for e in await timeline(sessions, incident.id) if e.actor == "sms"]
    assert [(e.action, e.detail["status"]) for e in sms_lines] == [("sms_sent", "queued")]
    assert "13900000001" not in str(sms_lines[0].detail)  # the timeline shows only the tail

    await take(sessions, incident.id, at)
    at = await rounds_until(sessions, sms_settings, gateway, sent_count(fake, FIRST, 2), at=at)
    assert fake.sent_to(FIRST)[1]["body"].startswith("【平湖街道呼叫中心】社工")
    assert "分钟到" in fake.sent_to(FIRST)[1]["body"]

    await resolve(sessions, incident.id, at, Outcome.ASSISTANCE_GIVEN)
    await rounds_until(sessions, sms_settings, gateway, all_settled(sessions), at=at)
    assert (
        fake.sent_to(FIRST)[2]["body"]
        == "【平湖街道呼叫中心】王秀英的求助已处理完毕：社工已上门帮助。"
    )
    # Nothing for the second contact: the first was reached (Twilio took it; no receipts asked).
    assert fake.sent_to(SECOND) == [] and len(fake.create_requests) == 3
    states = {(m.step, m.contact_rank): m.state for m in await messages(sessions)}
    assert states[(FamilyStep.RESOLVED, 2)] is SmsState.SKIPPED


async def test_a_step_overtaken_by_the_resolution_is_not_sent(
    sessions: Sessions,
    sms_settings: Settings,
    gateway: SmsGateway,
    fake: FakeTwilio,
    family: Family,
) -> None:
    at = local(sms_settings, 14)
    incident = await press(sessions, sms_settings, family.terminal, at)
    await resolve(sessions, incident.id, at, Outcome.FALSE_ALARM)  # before the sender looked
    await rounds_until(sessions, sms_settings, gateway, all_settled(sessions), at=at)
    assert [m["body"] for m in fake.sent_to(FIRST)] == [
        "【平湖街道呼叫中心】王秀英的求助已处理完毕：误报，老人平安。"
    ]


async def test_without_credentials_messages_are_recorded_in_the_outbox_and_nothing_is_sent(
    sessions: Sessions, settings: Settings, fake: FakeTwilio, tmp_path: Path
) -> None:
    assert settings.sms_mode == "outbox"
    family = await make_family(sessions, settings, tmp_path)
    at = local(settings, 14)
    incident = await press(sessions, settings, family.terminal, at)
    await rounds_until(sessions, settings, OutboxGateway(), all_settled(sessions), at=at)
    first, second = await messages(sessions)
    assert first.state is SmsState.OUTBOX and first.body and "王秀英" in first.body
    assert second.state is SmsState.SKIPPED and fake.create_requests == []
    # Recorded, not sent: the timeline says where it is (a person may read it out by phone).
    steps = [e for e in await timeline(sessions, incident.id) if e.actor == "sms"]
    assert [(e.action, e.detail["message_id"]) for e in steps] == [("sms_outbox", first.id)]
    assert steps[0].detail["text"] == first.body
