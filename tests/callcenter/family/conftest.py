"""The street with a second contact, the fake Twilio server, and settings that point at it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.family.sender import SmsGateway, TwilioGateway
from callcenter.family.tasks import send_due_messages
from callcenter.incidents.acknowledge import acknowledge
from callcenter.incidents.lifecycle import change_status
from callcenter.pipeline.tasks import process_pending
from kernel.models import (
    WAITING_STATES,
    Device,
    EmergencyContact,
    FamilyMessage,
    Incident,
    IncidentEntry,
    IncidentStatus,
    Outcome,
)
from kernel.settings import Settings
from tests.callcenter.family.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilio
from tests.callcenter.incidents.conftest import make_street, record

Sessions = async_sessionmaker[AsyncSession]
FIRST = "+8613900000001"
SECOND = "+8613900000002"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    """Twilio's Messages API, faked on a local port."""
    with FakeTwilio() as running:
        yield running


def twilio_settings(settings: Settings, fake: FakeTwilio, **overrides: object) -> Settings:
    """The test's settings with Twilio credentials and the fake as the API host."""
    return settings.model_copy(
        update={
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": SecretStr(AUTH_TOKEN),
            "twilio_from": SENDER,
            "twilio_api_base": fake.url,
            "sms_timeout_s": 1.0,
            **overrides,
        }
    )


@pytest.fixture
def sms_settings(settings: Settings, fake: FakeTwilio) -> Settings:
    """Settings that send through the real twilio client to the fake."""
    return twilio_settings(settings, fake)


@pytest.fixture
def gateway(sms_settings: Settings) -> Iterator[SmsGateway]:
    """The real Twilio client, aimed at the fake."""
    real = TwilioGateway(sms_settings)
    yield real
    real.close()


class Family:
    """The street's elder, with two contacts that take SMS."""

    terminal: str


async def make_family(
    sessions: Sessions, settings: Settings, tmp_path: Path, *, second_language: str = "zh"
) -> Family:
    """The street, its elder's first contact on FIRST and a second contact on SECOND."""
    street = await make_street(sessions, settings, tmp_path)
    async with sessions() as session, session.begin():
        elder_id = await session.scalar(select(Device.elder_id).where(Device.id == street.terminal))
        first = await session.scalar(
            select(EmergencyContact).where(EmergencyContact.elder_id == elder_id)
        )
        assert first is not None
        first.phone = FIRST[3:]
        await session.execute(
            insert(EmergencyContact).values(
                elder_id=elder_id, position=2, name="李娟", relation="女儿",
                phone=SECOND[3:], language=second_language,
            )
        )  # fmt: skip
    family = Family()
    family.terminal = street.terminal
    return family


@pytest.fixture
async def family(sessions: Sessions, sms_settings: Settings, tmp_path: Path) -> Family:
    """The family, in the test's database."""
    return await make_family(sessions, sms_settings, tmp_path)


async def press(
    sessions: Sessions, settings: Settings, terminal: str, at: dt.datetime, type_: str = "sos"
) -> Incident:
    """A press of the terminal handled by the pipeline at `at`; the incident it opened or joined."""
    await record(sessions, terminal, type_, button="main")
    await process_pending(sessions, settings, lambda: at)
    async with sessions() as session:
        incident = await session.scalar(select(Incident).order_by(Incident.id.desc()).limit(1))
    assert incident is not None
    return incident


async def take(sessions: Sessions, incident_id: int, at: dt.datetime) -> None:
    """The assigned worker acknowledges the incident."""
    async with sessions() as session, session.begin():
        incident = await session.get(Incident, incident_id)
        assert incident is not None and incident.assigned_staff_id is not None
        await acknowledge(session, incident, incident.assigned_staff_id, at)


async def resolve(sessions: Sessions, incident_id: int, at: dt.datetime, outcome: Outcome) -> None:
    """Resolve the incident as its assigned worker (acknowledging it first if nobody has)."""
    async with sessions() as session, session.begin():
        incident = await session.get(Incident, incident_id)
        assert incident is not None and incident.assigned_staff_id is not None
        if incident.acknowledged_at is None:
            await acknowledge(session, incident, incident.assigned_staff_id, at)
        await change_status(
            session, incident, IncidentStatus.RESOLVED, staff_id=incident.assigned_staff_id,
            now=at, outcome=outcome,
        )  # fmt: skip


async def messages(sessions: Sessions) -> list[FamilyMessage]:
    async with sessions() as session:
        return list((await session.scalars(select(FamilyMessage).order_by(FamilyMessage.id))).all())


async def timeline(sessions: Sessions, incident_id: int) -> list[IncidentEntry]:
    async with sessions() as session:
        query = select(IncidentEntry).where(IncidentEntry.incident_id == incident_id)
        return list((await session.scalars(query.order_by(IncidentEntry.id))).all())


async def rounds_until(
    sessions: Sessions,
    settings: Settings,
    gateway: SmsGateway,
    done: Callable[[], Awaitable[bool]],
    *,
    at: dt.datetime,
    step_s: float = 1.0,
    limit: int = 200,
) -> dt.datetime:
    """Sender rounds on a clock that moves `step_s` a round, until `done`; fails after `limit`."""
    for _ in range(limit):
        await send_due_messages(sessions, settings, gateway, at)
        if await done():
            return at
        at += dt.timedelta(seconds=step_s)
    raise AssertionError(f"not done after {limit} sender rounds")


def all_settled(sessions: Sessions) -> Callable[[], Awaitable[bool]]:
    """A `done` check: no message is waiting any more (each sent, failed or skipped)."""

    async def done() -> bool:
        return all(m.state not in WAITING_STATES for m in await messages(sessions))

    return done
