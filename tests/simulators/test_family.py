"""The simulated family answers an alarm's SMS over the running call centre's signed webhook, as a
real answer comes through Twilio: the answer lands on the incident's timeline in words; an answer
signed with another key is refused and lands nowhere."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select

from eldercare.family_demo import outbox_since, simulated_family
from kernel.models import FamilyReply, IncidentEntry, ReplyKind, utcnow
from kernel.settings import Settings
from simulators.family import Sms, Webhook, run_family, send_sms
from tests.simulators.conftest import StartSystem, System, eventually

# The centre's address as Twilio reaches it: not where this test reaches the server.
PUBLIC_URL = "https://pinghu-callcentre.example"
KEY = "a-key-only-the-centre-and-twilio-know"


async def family_steps(system: System, incident_id: int) -> list[IncidentEntry]:
    async with system.sessions() as session:
        query = select(IncidentEntry).where(
            IncidentEntry.incident_id == incident_id, IncidentEntry.actor == "family"
        )
        return list((await session.scalars(query.order_by(IncidentEntry.id))).all())


async def an_sos_and_its_family_sms(system: System) -> tuple[dict[str, Any], Sms]:
    """An SOS pressed over the wire, and the family's SMS about it in the outbox."""
    since = utcnow()
    stage = await system.play("sos")
    (terminal,) = stage.devices

    async def sos() -> list[dict[str, Any]]:
        return [
            i for i in await system.incidents()
            if i["kind"] == "sos" and i["device_id"] == terminal.device_id
        ]  # fmt: skip

    (incident,) = await eventually(sos, "an sos incident")
    (sms,) = await eventually(lambda: outbox_since(system.sessions, since), "the family's SMS")
    assert sms.body.endswith("您去请回1，去不了回2。"), sms.body
    return incident, sms


async def test_the_simulated_family_answers_an_sos_and_its_1_lands_on_the_timeline(
    start_system: StartSystem,
) -> None:
    system = await start_system(sms_public_url=PUBLIC_URL, TWILIO_AUTH_TOKEN=KEY)
    assert system.settings.sms_mode == "outbox"
    since = utcnow()
    incident, sms = await an_sos_and_its_family_sms(system)

    stop, said = asyncio.Event(), list[str]()
    phones = asyncio.create_task(
        run_family(
            lambda: outbox_since(system.sessions, since),
            Webhook.of(PUBLIC_URL, KEY, reach=system.base),
            stop=stop, say=said.append, rng=random.Random(1), poll_s=0.1,
            answer_after_s=(0.0, 0.1),
        )
    )  # fmt: skip
    try:
        (step,) = await eventually(
            lambda: family_steps(system, incident["id"]), "the family's answer on the timeline"
        )
    finally:
        stop.set()
        await phones

    assert step.action == "family_going", step.action
    assert step.detail["family_on_the_way"].endswith("李明")  # the first contact, by name
    async with system.sessions() as session:
        (reply,) = (await session.scalars(select(FamilyReply))).all()
    assert (reply.kind, reply.incident_id, reply.phone) == (
        ReplyKind.GOING, incident["id"], sms.to,
    )  # fmt: skip
    (line,) = said
    assert f"****{sms.to[-4:]} answered '1'" in line and "收到，您正赶往" in line, line


async def test_an_answer_signed_with_another_key_is_refused_and_lands_nowhere(
    start_system: StartSystem,
) -> None:
    system = await start_system(sms_public_url=PUBLIC_URL, TWILIO_AUTH_TOKEN=KEY)
    incident, sms = await an_sos_and_its_family_sms(system)

    async with httpx.AsyncClient(timeout=10) as client:
        forged = await send_sms(
            client, Webhook.of(PUBLIC_URL, "not-the-key", reach=system.base), sms.to, "1"
        )
        elsewhere = await send_sms(
            client, Webhook.of("https://elsewhere.example", KEY, reach=system.base), sms.to, "1"
        )
    assert (forged.status, elsewhere.status) == (403, 403)
    assert await family_steps(system, incident["id"]) == []


def test_the_demo_signs_with_a_key_of_its_own_only_without_twilio(settings: Settings) -> None:
    base = "http://127.0.0.1:8080"
    demo, webhook = simulated_family(settings, base)
    assert webhook is not None and webhook.url == f"{base}/api/sms/inbound"
    assert demo.sms_mode == "outbox" and demo.sms_public_url == base
    assert demo.twilio_auth_token is not None
    assert demo.twilio_auth_token.get_secret_value() == webhook.auth_token
    # A new key each start: nothing to keep, nothing anyone else knows.
    assert simulated_family(settings, base)[1] != webhook
    # Real Twilio settings, or any part of them, and the family is real: nothing simulated.
    for real in (
        {"twilio_auth_token": SecretStr("real")},
        {"sms_public_url": "https://cc.example.cn"},
        {"twilio_account_sid": "AC1", "twilio_auth_token": SecretStr("t"), "twilio_from": "+1"},
    ):
        configured = settings.model_copy(update=real)
        assert simulated_family(configured, base) == (configured, None)
