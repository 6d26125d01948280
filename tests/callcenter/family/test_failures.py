"""Twilio failing: transient errors retried without doubling, permanent ones falling over."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from callcenter.family.sender import SmsGateway, TwilioGateway
from callcenter.family.tasks import send_due_messages
from kernel.database import create_engine, session_factory
from kernel.models import FamilyStep, SmsState
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
    rounds_until,
    timeline,
    twilio_settings,
)
from tests.callcenter.family.fake_twilio import FakeTwilio, Step
from tests.callcenter.incidents.conftest import local


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    "trouble",
    [
        pytest.param(("error", 500, 20500), id="5xx"),
        pytest.param(("error", 429, 20429), id="429"),
        pytest.param("timeout", id="timeout"),
        pytest.param("accept_then_drop", id="dropped-after-accepting"),
    ],
)
async def test_a_transient_failure_is_retried_and_the_family_gets_exactly_one_message(
    sessions: Sessions,
    sms_settings: Settings,
    gateway: SmsGateway,
    fake: FakeTwilio,
    family: Family,
    trouble: Step,
) -> None:
    fake.slow_s = sms_settings.sms_timeout_s * 2
    fake.script(trouble, trouble)
    at = now()  # the look-up compares with the fake's own clock, as with Twilio's
    incident = await press(sessions, sms_settings, family.terminal, at)

    async def first_accepted() -> bool:
        jobs = await messages(sessions)
        return jobs[0].state is SmsState.ACCEPTED

    await rounds_until(sessions, sms_settings, gateway, first_accepted, at=at)
    assert len(fake.sent_to(FIRST)) == 1  # created once, however many tries it took
    (job, _second) = await messages(sessions)
    assert job.twilio_sid == fake.sent_to(FIRST)[0]["sid"]
    # A dropped answer is looked up, not resent: Twilio had it at the first try.
    assert len(fake.create_requests) == (1 if trouble == "accept_then_drop" else 3)
    assert [e.action for e in await timeline(sessions, incident.id) if e.actor == "sms"] == [
        "sms_sent"
    ]


@pytest.mark.parametrize("code", [21211, 21610])
async def test_a_permanent_failure_is_recorded_and_the_next_contact_is_told(
    sessions: Sessions,
    sms_settings: Settings,
    gateway: SmsGateway,
    fake: FakeTwilio,
    family: Family,
    code: int,
) -> None:
    fake.script(("error", 400, code))
    at = local(sms_settings, 14)
    incident = await press(sessions, sms_settings, family.terminal, at)
    await rounds_until(sessions, sms_settings, gateway, all_settled(sessions), at=at)
    first, second = await messages(sessions)
    assert (first.state, first.error_code) == (SmsState.FAILED, code)
    assert second.state is SmsState.ACCEPTED and len(fake.sent_to(SECOND)) == 1
    assert len(fake.create_requests) == 2  # a permanent refusal is not retried
    lines = [(e.action, e.detail.get("error_code")) for e in await timeline(sessions, incident.id)]
    assert ("sms_failed", code) in lines and lines[-1] == ("sms_sent", None)
    failed = next(e for e in await timeline(sessions, incident.id) if e.action == "sms_failed")
    assert str(code) not in failed.detail["to"] and failed.detail["reason"]


async def test_retries_stop_after_the_limit_and_the_next_contact_is_told(
    sessions: Sessions,
    sms_settings: Settings,
    gateway: SmsGateway,
    fake: FakeTwilio,
    family: Family,
) -> None:
    limited = sms_settings.model_copy(update={"sms_max_attempts": 3})
    fake.script(*[("error", 429, 20429)] * 3)
    at = local(limited, 14)
    await press(sessions, limited, family.terminal, at)
    await rounds_until(sessions, limited, gateway, all_settled(sessions), at=at)
    first, second = await messages(sessions)
    assert first.state is SmsState.FAILED and "3 tries" in first.reason
    assert second.state is SmsState.ACCEPTED and fake.sent_to(FIRST) == []


async def test_the_second_contact_is_told_when_the_first_gets_no_delivery_in_time(
    sessions: Sessions, settings: Settings, fake: FakeTwilio, tmp_path: Path
) -> None:
    receipts = twilio_settings(
        settings, fake, sms_public_url="http://127.0.0.1:9", sms_unreached_after_s=60
    )
    gateway = TwilioGateway(receipts)
    try:
        family = await make_family(sessions, receipts, tmp_path)
        at = local(receipts, 14)
        await press(sessions, receipts, family.terminal, at)
        # Receipts are asked for, and none comes: after 60 s the daughter is told too.
        await rounds_until(sessions, receipts, gateway, all_settled(sessions), at=at, step_s=5)
        opened = [m for m in await messages(sessions) if m.step is FamilyStep.OPENED]
        assert [m.state for m in opened] == [SmsState.ACCEPTED, SmsState.ACCEPTED]
        assert opened[1].sent_at is not None and opened[0].sent_at is not None
        assert opened[1].sent_at - opened[0].sent_at >= dt.timedelta(seconds=60)
    finally:
        gateway.close()


async def test_a_restart_in_the_middle_of_sending_neither_loses_nor_doubles_a_message(
    migrated_url: str, sms_settings: Settings, fake: FakeTwilio, family: Family, sessions: Sessions
) -> None:
    at = now()
    await press(sessions, sms_settings, family.terminal, at)
    # Sender A: Twilio takes the message, then A dies before it hears back.
    engine_a = create_engine(migrated_url)
    gateway_a = TwilioGateway(sms_settings)
    fake.script("hold")
    round_a = asyncio.create_task(
        send_due_messages(session_factory(engine_a), sms_settings, gateway_a, now())
    )
    assert await asyncio.to_thread(fake.held.wait, 10)
    round_a.cancel()
    with pytest.raises(asyncio.CancelledError):
        await round_a
    fake.release()
    await engine_a.dispose()
    gateway_a.close()
    (job, _) = await messages(sessions)
    assert job.state is SmsState.SENDING and len(fake.sent_to(FIRST)) == 1

    # Sender B starts after the lease: it asks Twilio, finds the message, and does not resend.
    restarted = sms_settings.model_copy(update={"sms_sending_lease_s": 30.0})
    gateway_b = TwilioGateway(restarted)
    try:
        later = at + dt.timedelta(seconds=31)
        await rounds_until(sessions, restarted, gateway_b, all_settled(sessions), at=later)
    finally:
        gateway_b.close()
    (job, second) = await messages(sessions)
    assert job.state is SmsState.ACCEPTED and job.twilio_sid == fake.sent_to(FIRST)[0]["sid"]
    assert len(fake.create_requests) == 1 and second.state is SmsState.SKIPPED


async def test_a_crash_before_twilio_heard_of_it_sends_it_after_the_restart(
    sessions: Sessions,
    sms_settings: Settings,
    gateway: SmsGateway,
    fake: FakeTwilio,
    family: Family,
) -> None:
    class Crashing:
        """A sender that dies after committing `sending`, before its call leaves."""

        mode = "twilio"

        async def send(self, message: object) -> object:
            raise asyncio.CancelledError

    at = local(sms_settings, 14)
    await press(sessions, sms_settings, family.terminal, at)
    with pytest.raises(asyncio.CancelledError):
        await send_due_messages(sessions, sms_settings, Crashing(), at)  # type: ignore[arg-type]
    assert (await messages(sessions))[0].state is SmsState.SENDING and fake.create_requests == []

    later = at + dt.timedelta(seconds=sms_settings.sms_sending_lease_s + 1)
    await rounds_until(sessions, sms_settings, gateway, all_settled(sessions), at=later)
    assert len(fake.sent_to(FIRST)) == 1 and len(fake.create_requests) == 1
    assert (await messages(sessions))[0].state is SmsState.ACCEPTED
