"""Twilio calling us: an SMS a family member sent to our number, posted to the incoming-message
webhook as Twilio posts it (form fields, signed with twilio's own RequestValidator over the
URL configured for the number), and the app in-process to receive it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from twilio.request_validator import RequestValidator

from callcenter.register import columns
from eldercare.app import create_app
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.models import Device, FamilyReply, IncidentEntry
from kernel.settings import Settings
from tests.callcenter.family.conftest import FIRST, Sessions, twilio_settings
from tests.callcenter.family.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilio
from tests.factories import AS_OF, acting_as, create_register_csv, create_row

# This centre's address as Twilio reaches it; the number's webhook is <it>/api/sms/inbound.
PUBLIC_URL = "https://pinghu-callcentre.example"
INBOUND_URL = f"{PUBLIC_URL}/api/sms/inbound"
FORM = "application/x-www-form-urlencoded; charset=UTF-8"


def reply_settings(settings: Settings, fake: FakeTwilio) -> Settings:
    """Twilio credentials, the fake as the API host, and the public URL replies are signed for."""
    return twilio_settings(settings, fake, sms_public_url=PUBLIC_URL)


def sms_from(sender: str, body: str, **extra: str) -> dict[str, str]:
    """The form fields of Twilio's incoming-message request for an SMS `sender` sent us."""
    sid = "SM" + uuid.uuid4().hex
    return {
        "ToCountry": "US", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0",
        "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received",
        "FromCity": "", "Body": body, "FromCountry": "CN", "To": SENDER, "ToZip": "",
        "NumSegments": "1", "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender,
        "ApiVersion": "2010-04-01", **extra,
    }  # fmt: skip


async def twilio_posts(
    client: httpx.AsyncClient,
    params: dict[str, str],
    *,
    token: str = AUTH_TOKEN,
    url: str = INBOUND_URL,
    signed: bool = True,
) -> httpx.Response:
    """Post `params` to the webhook as Twilio does, signed with `token` over `url`."""
    headers = {"Content-Type": FORM}
    if signed:
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(url, params)
    return await client.post("/api/sms/inbound", content=urlencode(params), headers=headers)


@asynccontextmanager
async def serving(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the test's database, with its lifespan (its own loops run beside the test),
    and a client that reaches it as Twilio would (as an admin for the console's listings)."""
    app = acting_as(create_app(settings, engine, mqtt=False))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client,
    ):
        yield client


class Parents:
    """Two elders of one household whose son (李明, on FIRST) is the first contact of both."""

    mother: str  # 王秀英's terminal
    father: str  # 李建国's terminal


async def make_parents(sessions: Sessions, settings: Settings, tmp_path: Path) -> Parents:
    """The parents imported from a register, the demo staff and their roster."""
    son = {columns.CONTACT1_NAME: "李明", columns.CONTACT1_RELATION: "儿子",
           columns.CONTACT1_PHONE: FIRST[3:]}  # fmt: skip
    mother = create_row(**son)
    father = create_row(**son, **{columns.NAME: "李建国", columns.SEX: "男",
                                  columns.CONDITIONS: "高血压"})  # fmt: skip
    path = create_register_csv(tmp_path / "parents.csv", [mother, father])
    await import_register_file(sessions, path, as_of=AS_OF, actor="test")
    await ensure_staff_and_roster(sessions, settings)
    parents = Parents()
    parents.mother, parents.father = mother[columns.SOS_TERMINAL], father[columns.SOS_TERMINAL]
    async with sessions() as session:
        bound = await session.scalars(select(Device.id).where(Device.elder_id.is_not(None)))
        assert {parents.mother, parents.father} <= set(bound.all())
    return parents


async def replies(sessions: Sessions) -> list[FamilyReply]:
    async with sessions() as session:
        return list((await session.scalars(select(FamilyReply).order_by(FamilyReply.id))).all())


async def family_steps(sessions: Sessions, incident_id: int) -> list[IncidentEntry]:
    """The incident's timeline steps a family member's SMS made."""
    async with sessions() as session:
        query = select(IncidentEntry).where(
            IncidentEntry.incident_id == incident_id, IncidentEntry.actor == "family"
        )
        return list((await session.scalars(query.order_by(IncidentEntry.id))).all())
