"""A family member answers our SMS through Twilio's signed incoming-message webhook: the answer is
matched to the incident their last message was about and lands on its timeline in words."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.family.sender import SmsGateway
from callcenter.privacy import service as privacy
from kernel.models import FamilyReply, IncidentEntry, Outcome, RejectedMessage, ReplyKind
from kernel.settings import Settings
from tests.callcenter.family.conftest import FIRST, Family, Sessions, press, resolve, rounds_until
from tests.callcenter.family.fake_twilio import FakeTwilio
from tests.callcenter.family.inbound import (
    family_steps,
    make_parents,
    replies,
    reply_settings,
    serving,
    sms_from,
    twilio_posts,
)
from tests.callcenter.incidents.conftest import local


def sent_to(fake: FakeTwilio, to: str, n: int):  # type: ignore[no-untyped-def]
    async def done() -> bool:
        return len(fake.sent_to(to)) >= n

    return done


def answered(response_text: str) -> list[str]:
    """The messages a TwiML answer sends back to the family member."""
    root = ElementTree.fromstring(response_text)
    assert root.tag == "Response"
    return [message.text or "" for message in root.iter("Message")]


async def test_a_1_reply_lands_on_the_incident_its_message_was_about_in_words(
    sessions: Sessions,
    engine: AsyncEngine,
    sms_settings: Settings,
    fake: FakeTwilio,
    gateway: SmsGateway,
    family: Family,
) -> None:
    receiving = reply_settings(sms_settings, fake)
    at = local(sms_settings, 14)
    incident = await press(sessions, sms_settings, family.terminal, at)
    await rounds_until(sessions, sms_settings, gateway, sent_to(fake, FIRST, 1), at=at)
    assert fake.sent_to(FIRST)[0]["body"].endswith("您去请回1，去不了回2。")

    async with serving(receiving, engine) as client:
        answer = await twilio_posts(client, sms_from(FIRST, " 1 "))
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/xml")
        assert answered(answer.text) == [
            "【平湖街道呼叫中心】收到，您正赶往王秀英家。社工也会照常上门。"
        ]
        (listed,) = (await client.get(f"/api/sms/replies?incident={incident.id}")).json()

    (step,) = await family_steps(sessions, incident.id)
    assert step.action == "family_going"
    assert step.detail == {"family_member": "儿子 李明 尾号0001", "family_on_the_way": "儿子 李明"}
    # Anonymised, the step keeps no one's name: a family member is not a code.
    assert privacy.kept_detail(step.detail) == {}
    (reply,) = await replies(sessions)
    assert (reply.kind, reply.incident_id, reply.phone) == (
        ReplyKind.GOING, incident.id, FIRST[3:],
    )  # fmt: skip
    assert listed["kind"] == "going" and listed["contact_name"] == "李明"
    assert listed["phone"] == "139****0001"  # masked, as the outbox listing has it


async def test_2_takes_a_going_back_and_free_text_is_kept_as_written(
    sessions: Sessions,
    engine: AsyncEngine,
    sms_settings: Settings,
    fake: FakeTwilio,
    gateway: SmsGateway,
    family: Family,
) -> None:
    receiving = reply_settings(sms_settings, fake)
    at = local(sms_settings, 14)
    incident = await press(sessions, sms_settings, family.terminal, at)
    await rounds_until(sessions, sms_settings, gateway, sent_to(fake, FIRST, 1), at=at)
    async with serving(receiving, engine) as client:
        for body in ("我去", "２", "我在深圳北站，一小时后到，钥匙在邻居302"):
            assert (await twilio_posts(client, sms_from(FIRST, body))).status_code == 200
    steps = await family_steps(sessions, incident.id)
    assert [(s.action, s.detail.get("family_on_the_way")) for s in steps] == [
        ("family_going", "儿子 李明"),
        ("family_cannot", None),  # nobody on the way any more
        ("family_reply", None),
    ]
    assert steps[2].detail["text"] == "我在深圳北站，一小时后到，钥匙在邻居302"


async def test_a_reply_goes_to_the_open_incident_whose_message_went_to_that_number_last(
    sessions: Sessions,
    engine: AsyncEngine,
    sms_settings: Settings,
    fake: FakeTwilio,
    gateway: SmsGateway,
    tmp_path: Path,
) -> None:
    receiving = reply_settings(sms_settings, fake)
    parents = await make_parents(sessions, sms_settings, tmp_path)
    at = local(sms_settings, 14)
    mother = await press(sessions, sms_settings, parents.mother, at)
    at = await rounds_until(sessions, sms_settings, gateway, sent_to(fake, FIRST, 1), at=at)
    father = await press(sessions, sms_settings, parents.father, at)
    at = await rounds_until(sessions, sms_settings, gateway, sent_to(fake, FIRST, 2), at=at)
    assert "李建国" in fake.sent_to(FIRST)[1]["body"]

    async with serving(receiving, engine) as client:
        await twilio_posts(client, sms_from(FIRST, "1"))  # the father's: the newest message
        await resolve(sessions, father.id, at, Outcome.FALSE_ALARM)
        await twilio_posts(client, sms_from(FIRST, "1"))  # the mother's: the one still open
        await resolve(sessions, mother.id, at, Outcome.ASSISTANCE_GIVEN)
        late = await twilio_posts(client, sms_from(FIRST, "谢谢你们"))  # nothing open
        unmatched = (await client.get("/api/sms/replies?unmatched=true")).json()

    assert [r.incident_id for r in await replies(sessions)] == [father.id, mother.id, None]
    assert [s.action for s in await family_steps(sessions, father.id)] == ["family_going"]
    assert [s.action for s in await family_steps(sessions, mother.id)] == ["family_going"]
    # Kept for an operator: who sent it and what, with no incident to put it on; no answer sent.
    ((kept),) = unmatched
    assert (kept["body"], kept["contact_name"], kept["incident_id"]) == ("谢谢你们", "李明", None)
    assert answered(late.text) == []


async def test_unsigned_and_forged_replies_are_refused_and_kept_for_review(
    sessions: Sessions,
    engine: AsyncEngine,
    sms_settings: Settings,
    fake: FakeTwilio,
    gateway: SmsGateway,
    family: Family,
) -> None:
    receiving = reply_settings(sms_settings, fake)
    at = local(sms_settings, 14)
    incident = await press(sessions, sms_settings, family.terminal, at)
    await rounds_until(sessions, sms_settings, gateway, sent_to(fake, FIRST, 1), at=at)
    async with serving(receiving, engine) as client:
        refused = [
            await twilio_posts(client, sms_from(FIRST, "1"), signed=False),
            await twilio_posts(client, sms_from(FIRST, "1"), token="not-our-auth-token"),
            # Signed by Twilio for another address than the one our number is configured with.
            await twilio_posts(client, sms_from(FIRST, "1"), url="https://elsewhere.example/sms"),
        ]
        rejects = (await client.get("/api/gateway/rejects")).json()
    assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "bad_signature")] * 3
    assert await replies(sessions) == [] and await family_steps(sessions, incident.id) == []
    assert [(r["transport"], r["reason"], r["topic"]) for r in rejects] == [
        ("sms", "bad_signature", "/api/sms/inbound")
    ] * 3
    # What was said stays for review, whose it was only by its last digits.
    assert all("Body=1" in r["raw"] and "0001" in r["raw"] for r in rejects)
    assert not any("13900000001" in r["raw"] for r in rejects)
    async with sessions() as session:
        kept = (await session.scalars(select(RejectedMessage))).all()
    assert len(kept) == 3


async def test_a_reply_twilio_delivers_twice_is_recorded_once(
    sessions: Sessions,
    engine: AsyncEngine,
    sms_settings: Settings,
    fake: FakeTwilio,
    gateway: SmsGateway,
    family: Family,
) -> None:
    receiving = reply_settings(sms_settings, fake)
    at = local(sms_settings, 14)
    incident = await press(sessions, sms_settings, family.terminal, at)
    await rounds_until(sessions, sms_settings, gateway, sent_to(fake, FIRST, 1), at=at)
    params = sms_from(FIRST, "1")
    async with serving(receiving, engine) as client:
        first = await twilio_posts(client, params)
        again = await twilio_posts(client, params)
    assert (first.status_code, again.status_code) == (200, 200)
    assert len(answered(first.text)) == 1 and answered(again.text) == []
    assert len(await replies(sessions)) == 1
    assert len(await family_steps(sessions, incident.id)) == 1


async def test_a_reply_from_a_number_we_never_wrote_to_is_kept_unmatched(
    sessions: Sessions, engine: AsyncEngine, settings: Settings, fake: FakeTwilio
) -> None:
    receiving = reply_settings(settings, fake)
    async with serving(receiving, engine) as client:
        answer = await twilio_posts(client, sms_from("+8613811112222", "请问我妈妈怎么样了"))
    assert answer.status_code == 200 and answered(answer.text) == []
    (reply,) = await replies(sessions)
    assert (reply.incident_id, reply.contact_name, reply.kind) == (None, "", ReplyKind.TEXT)
    async with sessions() as session:
        assert (await session.scalars(select(IncidentEntry))).all() == []
        assert (await session.scalars(select(FamilyReply.phone))).one() == "13811112222"
