"""The demo's family members (simulators/family.py), wired to this call centre.

Without Twilio credentials the demo's SMS go to the outbox: recorded, sent nowhere. The
simulated phones read that outbox (this composition root reads it for them, as it reads the
devices' logins for the simulated devices), and answer through the same signed webhook a real
answer takes. That webhook refuses anything not signed with Twilio's auth token over the
centre's public URL, and an outbox demo has neither: so a demo that simulates the family gets a
key of its own, made at each start and known only to this process and its simulated phones, and
its own address as the public URL. The signature check stays as it is. With Twilio credentials,
a public URL or an auth token configured, nothing here runs: real families answer real SMS.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import secrets
from collections.abc import Callable

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.models import FamilyMessage, SmsState, utcnow
from kernel.settings import Settings
from simulators.family import Sms, Webhook, run_family

# How far back the phones look on each read: far more than the two seconds between reads, so
# nothing is missed, and a day's demo is not read again every time (each message is read once).
LOOK_BACK = dt.timedelta(minutes=10)


def simulated_family(settings: Settings, base: str) -> tuple[Settings, Webhook | None]:
    """The settings a demo with simulated family answers runs on, and the webhook its phones
    post to; unchanged settings and None where real SMS or real Twilio settings are in play."""
    if (
        settings.sms_mode != "outbox"
        or settings.twilio_auth_token is not None
        or settings.sms_public_url
    ):
        return settings, None
    key = secrets.token_urlsafe(24)
    demo = settings.model_copy(update={"twilio_auth_token": SecretStr(key), "sms_public_url": base})
    return demo, Webhook.of(base, key)


async def outbox_since(sessions: async_sessionmaker[AsyncSession], since: dt.datetime) -> list[Sms]:
    """The outbox's messages recorded since `since`, as the phones they were for would have
    them (each read by its id)."""
    async with sessions() as session:
        rows = await session.execute(
            select(FamilyMessage.id, FamilyMessage.phone, FamilyMessage.body)
            .where(FamilyMessage.state == SmsState.OUTBOX, FamilyMessage.sent_at >= since)
            .order_by(FamilyMessage.id)
        )
        return [Sms(str(key), phone, body) for key, phone, body in rows if body]


async def run_family_demo(
    sessions: async_sessionmaker[AsyncSession],
    webhook: Webhook,
    *,
    ready: asyncio.Event,
    stop: asyncio.Event,
    say: Callable[[str], None],
    rng: random.Random | None = None,
) -> None:
    """Once the app serves, the family phones answer what the outbox sends them from then on."""
    started = asyncio.ensure_future(ready.wait())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({started, stopped}, return_when=asyncio.FIRST_COMPLETED)
    started.cancel()
    stopped.cancel()
    if stop.is_set():
        return
    serving_since = utcnow()

    async def inbox() -> list[Sms]:
        return await outbox_since(sessions, max(serving_since, utcnow() - LOOK_BACK))

    await run_family(inbox, webhook, stop=stop, say=say, rng=rng)
