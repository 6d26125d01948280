"""A family member's "1" does not stop the chase of a P1: the next worker and the supervisor are
still called at the same deadlines, nobody on site is still escalated, and each of these steps
notes who of the family is on the way."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.family.sender import SmsGateway
from callcenter.incidents.escalation import escalate_not_on_site, escalate_unacknowledged
from kernel.models import Incident, IncidentEntry
from kernel.settings import Settings
from tests.callcenter.family.conftest import FIRST, Family, Sessions, press, rounds_until
from tests.callcenter.family.fake_twilio import FakeTwilio
from tests.callcenter.family.inbound import reply_settings, serving, sms_from, twilio_posts
from tests.callcenter.incidents.conftest import local


async def deadlines(sessions: Sessions, incident_id: int) -> tuple[object, ...]:
    async with sessions() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        return (incident.ack_due_at, incident.onsite_due_at, incident.escalation_level)


async def chase(sessions: Sessions, incident_id: int) -> list[tuple[str, dict[str, object]]]:
    async with sessions() as session:
        query = select(IncidentEntry).where(
            IncidentEntry.incident_id == incident_id,
            IncidentEntry.action.in_(("escalated", "not_on_site")),
        )
        return [
            (e.action, e.detail) for e in await session.scalars(query.order_by(IncidentEntry.id))
        ]


async def test_a_going_reply_is_noted_by_every_escalation_and_stops_none(
    sessions: Sessions,
    engine: AsyncEngine,
    sms_settings: Settings,
    fake: FakeTwilio,
    gateway: SmsGateway,
    family: Family,
) -> None:
    at = local(sms_settings, 14)
    incident = await press(sessions, sms_settings, family.terminal, at)

    async def told() -> bool:
        return bool(fake.sent_to(FIRST))

    await rounds_until(sessions, sms_settings, gateway, told, at=at)
    before = await deadlines(sessions, incident.id)
    async with serving(reply_settings(sms_settings, fake), engine) as client:
        assert (await twilio_posts(client, sms_from(FIRST, "1"))).status_code == 200
    assert await deadlines(sessions, incident.id) == before  # the reply moved no deadline

    def after(seconds: int) -> dt.datetime:
        return incident.opened_at + dt.timedelta(seconds=seconds)

    settings = sms_settings
    assert await escalate_unacknowledged(
        sessions, settings, after(settings.ack_escalate_after_s)
    ) == [incident.id]
    supervisor_due = after(settings.supervisor_escalate_after_s)
    assert await escalate_unacknowledged(sessions, settings, supervisor_due) == [incident.id]
    assert await escalate_not_on_site(
        sessions, settings, after(settings.onsite_escalate_after_s)
    ) == [incident.id]
    steps = await chase(sessions, incident.id)
    assert [
        (action, detail.get("level"), detail.get("family_on_the_way")) for action, detail in steps
    ] == [
        ("escalated", 1, None),  # the next worker: nothing for the supervisor to read yet
        ("escalated", 2, "儿子 李明"),
        ("not_on_site", None, "儿子 李明"),
    ]
