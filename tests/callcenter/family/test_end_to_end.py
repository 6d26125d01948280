"""The whole app on a real port, Twilio faked on another: press, SMS, delivery receipt, resolution."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from eldercare.app import create_app
from kernel.database import create_engine, session_factory
from kernel.models import StaffRole
from kernel.settings import Settings
from tests.callcenter.family.conftest import FIRST, make_family, twilio_settings
from tests.callcenter.family.fake_twilio import FakeTwilio
from tests.callcenter.incidents.conftest import record
from tests.conftest import free_port
from tests.databases import migrate_fresh
from tests.factories import acting_as


async def eventually(check: Callable[[], Awaitable[Any]], deadline_s: float = 10.0) -> Any:
    """Poll `check` until it returns something truthy; fail at the deadline."""
    give_up = time.monotonic() + deadline_s
    while time.monotonic() < give_up:
        if found := await check():
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {deadline_s} s")


async def test_a_press_reaches_the_family_and_delivery_and_resolution_follow(
    settings: Settings, fake: FakeTwilio, tmp_path: Path
) -> None:
    port = free_port()
    app_settings = twilio_settings(settings, fake, sms_public_url=f"http://127.0.0.1:{port}")
    await asyncio.to_thread(migrate_fresh, app_settings.effective_database_url)
    engine = create_engine(app_settings.effective_database_url)
    sessions = session_factory(engine)
    family = await make_family(sessions, app_settings, tmp_path)
    app = acting_as(create_app(app_settings, mqtt=False))
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, server.started))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as api:
            pressed = time.time()
            await record(sessions, family.terminal, "sos", button="main")
            await eventually(lambda: asyncio.sleep(0, fake.sent_to(FIRST)), deadline_s=5)
            latency = fake.received_at[0] - pressed
            # Reported, not asserted: how fast is for the benchmarks (bench/), not a timed test.
            print(f"press to Twilio's Messages API: {latency * 1000:.0f} ms")
            (incident,) = (await api.get("/api/incidents")).json()
            sid = fake.sent_to(FIRST)[0]["sid"]

            # Twilio's receipts, signed: recorded on the message and the incident's timeline.
            for status in ("sent", "delivered"):
                assert await asyncio.to_thread(fake.deliver, sid, status) == 200
            (message,) = [
                m for m in (await api.get(f"/api/sms/messages?incident={incident['id']}")).json()
                if m["twilio_sid"] == sid
            ]  # fmt: skip
            assert message["delivery_status"] == "delivered"
            detail = (await api.get(f"/api/incidents/{incident['id']}")).json()
            receipts = [
                e["detail"]["status"] for e in detail["timeline"] if e["action"] == "sms_status"
            ]
            assert receipts == ["sent", "delivered"]

            # Forged and unsigned receipts are refused, and change nothing.
            form = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "30008"}
            forged = await api.post(
                "/api/sms/status", data=form, headers={"X-Twilio-Signature": "bm9wZQ=="}
            )
            unsigned = await api.post("/api/sms/status", data=form)
            assert (forged.status_code, unsigned.status_code) == (403, 403)
            assert forged.json()["code"] == "bad_signature"
            listed = (await api.get(f"/api/sms/messages?incident={incident['id']}")).json()
            assert (
                next(m for m in listed if m["twilio_sid"] == sid)["delivery_status"] == "delivered"
            )

            # The worker it went to resolves through the API: the resolution message follows.
            acting_as(app, StaffRole.COMMUNITY_WORKER, staff_id=incident["assigned_staff_id"],
                      centre_code=incident["centre_code"])  # fmt: skip
            url = f"/api/incidents/{incident['id']}"
            assert (await api.post(f"{url}/acknowledge", json={})).status_code == 200
            await eventually(lambda: asyncio.sleep(0, len(fake.sent_to(FIRST)) == 2))
            resolved = {"status": "resolved", "outcome": "assistance_given"}
            assert (await api.post(f"{url}/status", json=resolved)).status_code == 200
            await eventually(lambda: asyncio.sleep(0, len(fake.sent_to(FIRST)) == 3))
            assert fake.sent_to(FIRST)[2]["body"].endswith("的求助已处理完毕：社工已上门帮助。")
            assert len(fake.create_requests) == 3
    finally:
        server.should_exit = True
        await serving
        await engine.dispose()
