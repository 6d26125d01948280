"""The whole app on a real port with Twilio's voice settings, Twilio faked on another port, and a
street with an open SOS: the elder (own phone), two contacts, the demo staff with phones."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.pipeline.tasks import process_pending
from callcenter.register import columns
from eldercare.app import create_app
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.database import create_engine, session_factory
from kernel.models import Device, EmergencyContact, Incident, StaffMember, StaffRole, VoiceCall
from kernel.settings import Settings
from tests.callcenter.family.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilio
from tests.callcenter.incidents.conftest import record
from tests.conftest import free_port
from tests.factories import AS_OF, acting_as, create_register_csv, create_row

Sessions = async_sessionmaker[AsyncSession]
ELDER_PHONE = "13800138000"
DAUGHTER_PHONE = "13900000002"
OPERATOR_PHONE = "13700000001"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    """Twilio's API, faked on a local port."""
    with FakeTwilio() as running:
        yield running


def voice_settings(settings: Settings, fake: FakeTwilio, public_url: str, **more: Any) -> Settings:
    """The test's settings with Twilio's account, the fake as its API host, and this centre's
    public address (where the fake posts Twilio's requests)."""
    return settings.model_copy(
        update={
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": SecretStr(AUTH_TOKEN),
            "twilio_voice_from": SENDER,
            "twilio_api_base": fake.url,
            "voice_public_url": public_url,
            "sms_timeout_s": 5.0,
            **more,
        }
    )


@dataclass
class Centre:
    """The served app, its client, and the records the calls are about."""

    app: FastAPI
    api: httpx.AsyncClient
    sessions: Sessions
    incident: int
    elder: int
    terminal: str
    daughter: int  # the second contact, 女儿 李娟
    staff: dict[str, int]  # username -> id

    def act_as(self, username: str, role: StaffRole, centre: str) -> None:
        """Every request from now on is this person's."""
        acting_as(self.app, role, staff_id=self.staff[username], centre_code=centre)

    async def place(self, target: str = "elder", ref: str | None = None, **more: Any) -> Any:
        """The signed-in person's click on a number of the incident; the API's answer."""
        body = {"incident_id": self.incident, "target": target, "ref": ref,
                "request_id": f"click-{time.monotonic_ns()}", **more}  # fmt: skip
        return await self.api.post("/api/voice/calls", json=body)

    async def timeline(self) -> list[dict[str, Any]]:
        """The incident's call steps, oldest first."""
        detail = (await self.api.get(f"/api/incidents/{self.incident}")).json()
        return [e for e in detail["timeline"] if e["action"].startswith("call_")]

    async def calls(self) -> list[VoiceCall]:
        async with self.sessions() as session:
            return list((await session.scalars(select(VoiceCall).order_by(VoiceCall.id))).all())


async def make_centre_records(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> dict[str, Any]:
    """The elder with their own phone and a daughter as second contact, staff with phones, an
    SOS judged into an open incident."""
    row = create_row(**{
        columns.OWN_PHONE: ELDER_PHONE, columns.CONTACT2_NAME: "李娟",
        columns.CONTACT2_RELATION: "女儿", columns.CONTACT2_PHONE: DAUGHTER_PHONE,
    })  # fmt: skip
    await import_register_file(
        sessions, create_register_csv(tmp_path / "r.csv", [row]), as_of=AS_OF, actor="test"
    )
    await ensure_staff_and_roster(sessions, settings)
    terminal = row[columns.SOS_TERMINAL]
    async with sessions() as session, session.begin():
        await session.execute(update(StaffMember).values(phone=OPERATOR_PHONE))
        elder = await session.scalar(select(Device.elder_id).where(Device.id == terminal))
        daughter = await session.scalar(
            select(EmergencyContact.id).where(EmergencyContact.phone == DAUGHTER_PHONE)
        )
        staff = dict((await session.execute(select(StaffMember.username, StaffMember.id))).all())
    return {"terminal": terminal, "elder": elder, "daughter": daughter, "staff": staff}


@pytest.fixture
async def centre(
    migrated_url: str, settings: Settings, fake: FakeTwilio, tmp_path: Path
) -> AsyncIterator[Centre]:
    """The app serving on a free port with voice through the fake, an SOS open, op1 signed in."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app_settings = voice_settings(settings, fake, base, database_url=migrated_url)
    engine = create_engine(migrated_url)
    sessions = session_factory(engine)
    records = await make_centre_records(sessions, app_settings, tmp_path)
    await record(sessions, records["terminal"], "sos", button="main")
    await process_pending(sessions, app_settings)
    async with sessions() as session:
        incident = await session.scalar(select(Incident.id))
    assert incident is not None
    app = create_app(app_settings, mqtt=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="voice-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        await asyncio.sleep(0.05)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as api:
            centre = Centre(
                app=app, api=api, sessions=sessions, incident=incident, elder=records["elder"],
                terminal=records["terminal"], daughter=records["daughter"],
                staff=records["staff"],
            )  # fmt: skip
            centre.act_as("op1", StaffRole.OPERATOR, "PH00")
            yield centre
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 30)
        await engine.dispose()
