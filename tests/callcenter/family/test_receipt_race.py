"""A delivery receipt that arrives while the sender is writing down Twilio's answer is kept."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import asyncpg
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from twilio.request_validator import RequestValidator

from callcenter.family.sender import TwilioGateway
from callcenter.family.tasks import send_due_messages
from eldercare.app import create_app
from kernel.database import is_sqlite
from kernel.models import SmsState
from kernel.settings import Settings
from tests.callcenter.family.conftest import (
    FIRST,
    Sessions,
    make_family,
    messages,
    press,
    timeline,
    twilio_settings,
)
from tests.callcenter.family.fake_twilio import AUTH_TOKEN, FakeTwilio

PUBLIC_URL = "http://testserver"


async def test_a_receipt_landing_between_twilios_answer_and_its_record_is_kept(
    migrated_url: str, sessions: Sessions, settings: Settings, fake: FakeTwilio, tmp_path: Path
) -> None:
    # Twilio's answer is held until the receipt's first look (below), however long the machine
    # takes to get there (the receipt's app starts meanwhile): the sender must not give up on
    # it first (the tests' 1 s limit did, on a loaded machine: the message went "unsure").
    sms = twilio_settings(
        settings, fake, sms_public_url=PUBLIC_URL, database_url=migrated_url, sms_timeout_s=60.0
    )
    family = await make_family(sessions, sms, tmp_path)
    incident = await press(sessions, sms, family.terminal, dt.datetime.now(dt.UTC))
    gateway = TwilioGateway(sms)
    fake.script("hold")  # Twilio takes the message and holds its answer
    sending = asyncio.create_task(
        send_due_messages(sessions, sms, gateway, dt.datetime.now(dt.UTC))
    )
    assert await asyncio.to_thread(fake.held.wait, 10)
    (message,) = fake.sent_to(FIRST)
    loop = asyncio.get_running_loop()

    async def answer_recorded() -> None:
        fake.release()
        await sending

    fired: list[str] = []

    def sender_commits_meanwhile(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any
    ) -> None:
        # The receipt's first look for its message: the sender writes Twilio's answer right then.
        looking = "FROM family_messages" in statement and message["sid"] in str(parameters)
        if looking and not fired:
            fired.append(statement)
            recorded = asyncio.run_coroutine_threadsafe(answer_recorded(), loop)
            if is_sqlite(migrated_url):
                recorded.result(timeout=10)  # SQLite takes no row lock on a read
                return
            # On PostgreSQL a receipt that found its row holds it locked: the sender waits for
            # the receipt's commit, and the receipt goes on once the sender is seen waiting.
            while not recorded.done():
                if asyncio.run_coroutine_threadsafe(someone_waits_for_a_lock(), loop).result(10):
                    return
            recorded.result()

    async def someone_waits_for_a_lock() -> bool:
        server = await asyncpg.connect(migrated_url.replace("+asyncpg", ""))
        try:
            waiting = await server.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        finally:
            await server.close()
        return bool(waiting)

    def post_receipt() -> int:
        callback = urlsplit(message["_callback"])
        url = f"{PUBLIC_URL}{callback.path}?{callback.query}"
        params = {"MessageSid": message["sid"], "MessageStatus": "sent"}
        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        with TestClient(create_app(sms, mqtt=False), base_url=PUBLIC_URL) as client:
            answer = client.post(
                url, content=urlencode(params), headers={**headers, "X-Twilio-Signature": signature}
            )
        return answer.status_code

    event.listen(Engine, "after_cursor_execute", sender_commits_meanwhile)
    try:
        assert await asyncio.to_thread(post_receipt) == 200
    finally:
        event.remove(Engine, "after_cursor_execute", sender_commits_meanwhile)
        gateway.close()
    assert fired and sending.done()

    (job, *_) = await messages(sessions)
    assert (job.state, job.twilio_sid, job.delivery_status) == (
        SmsState.ACCEPTED, message["sid"], "sent",
    )  # fmt: skip
    statuses = [e.detail.get("status") for e in await timeline(sessions, incident.id)
                if e.action == "sms_status"]  # fmt: skip
    assert statuses == ["sent"]
