"""Family members' phones in software: they read the SMS the call centre sent them and answer an
alarm's message as a son or a daughter would, by SMS to the centre's number.

An answer reaches the call centre the way a real one does: Twilio posts it to the centre's
incoming-message webhook (`/api/sms/inbound`) as a form, signed with the account's auth token
over the URL the number is configured with (`X-Twilio-Signature`), and reads the TwiML it gets
back. Here the simulator plays both the phone and Twilio's part, over HTTP only: it knows the
token and the URL because Twilio would. Which SMS reached which phone is handed in (`Inbox`):
in the demo, the call centre's outbox, read by the composition root (eldercare/family_demo.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)

INBOUND_PATH = "/api/sms/inbound"
# A Twilio number of its test range stands in for the centre's (it is only ever a form field).
CENTRE_NUMBER = "+15005550006"
FORM = "application/x-www-form-urlencoded; charset=UTF-8"
# How an alarm's message asks for an answer (callcenter/family/templates/messages.toml), as the
# family member reads it: in Chinese or in English.
ASKS = ("回1", "Reply 1")
# A person reads the message, thinks, types: half a minute or so, not a machine's milliseconds.
ANSWER_AFTER_S = (10.0, 30.0)
# What the later answers are, after the first (always "1": the demo's first reply says someone
# of the family is going): mostly going, sometimes cannot, now and then a question of their own.
LATER_ANSWERS = ("1", "2", "我在开会，请先派社工去，谢谢")
LATER_WEIGHTS = (5, 2, 1)
POLL_S = 2.0
TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Sms:
    """An SMS that reached a family member's phone: `key` tells one from another."""

    key: str
    to: str
    body: str


Inbox = Callable[[], Awaitable[Sequence[Sms]]]


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where Twilio posts the SMS sent to the centre's number, and how it signs them.

    `url` is the URL the number is configured with, which the signature covers (the centre's
    public address); `post_to` where this process reaches the same route.
    """

    url: str
    post_to: str
    auth_token: str
    account_sid: str = "AC" + "0" * 32

    @classmethod
    def of(cls, public_base: str, auth_token: str, reach: str | None = None) -> Webhook:
        """The webhook of a centre whose public address is `public_base` (reached at `reach`)."""
        url = public_base.rstrip("/") + INBOUND_PATH
        return cls(url, (reach or public_base).rstrip("/") + INBOUND_PATH, auth_token)


@dataclass(frozen=True, slots=True)
class Answered:
    """A family member's SMS as the centre took it: the HTTP status and what it answered."""

    sender: str
    body: str
    status: int
    reply: list[str] = field(default_factory=list)


def asks_for_an_answer(body: str) -> bool:
    """Whether the message asks the family to answer (an alarm's first message)."""
    return any(ask in body for ask in ASKS)


def e164(number: str) -> str:
    """The number as Twilio writes a sender: +86 and the mainland mobile."""
    return number if number.startswith("+") else f"+86{number}"


def twilio_form(webhook: Webhook, sender: str, body: str) -> dict[str, str]:
    """The form fields of Twilio's incoming-message request for an SMS `sender` sent us."""
    sid = "SM" + uuid.uuid4().hex
    return {
        "ToCountry": "US", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "",
        "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "",
        "Body": body, "FromCountry": "CN", "To": CENTRE_NUMBER, "ToZip": "", "NumSegments": "1",
        "MessageSid": sid, "AccountSid": webhook.account_sid, "From": e164(sender),
        "ApiVersion": "2010-04-01",
    }  # fmt: skip


async def send_sms(client: httpx.AsyncClient, webhook: Webhook, sender: str, body: str) -> Answered:
    """A family member's SMS to the centre's number, posted and signed as Twilio posts it."""
    form = twilio_form(webhook, sender, body)
    signature = RequestValidator(webhook.auth_token).compute_signature(webhook.url, form)
    answer = await client.post(
        webhook.post_to,
        content=urlencode(form),
        headers={"Content-Type": FORM, "X-Twilio-Signature": signature},
    )
    reply: list[str] = []
    if answer.status_code == 200:
        root = ElementTree.fromstring(answer.text)
        reply = [message.text or "" for message in root.iter("Message")]
    return Answered(form["From"], body, answer.status_code, reply)


def masked(number: str) -> str:
    """A number as the demo's lines show it: the last four digits."""
    return "****" + number[-4:]


async def run_family(
    inbox: Inbox,
    webhook: Webhook,
    *,
    stop: asyncio.Event,
    say: Callable[[str], None],
    rng: random.Random | None = None,
    poll_s: float = POLL_S,
    answer_after_s: tuple[float, float] = ANSWER_AFTER_S,
) -> None:
    """Until `stop` is set: read the phones' new messages every `poll_s`, and answer each that
    asks for an answer after a person's delay (the first with "1", the later ones as people
    do); a message is read once."""
    rng = rng or random.Random()
    seen: set[str] = set()
    answering: set[asyncio.Task[None]] = set()
    first = True
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        try:
            while not stop.is_set():
                try:
                    arrived = [sms for sms in await inbox() if sms.key not in seen]
                except Exception:  # the phones wait for the next look; the demo goes on
                    log.exception("family phones: could not read the messages")
                    arrived = []
                for sms in arrived:
                    seen.add(sms.key)
                    if not asks_for_an_answer(sms.body):
                        continue
                    text = "1" if first else _later_answer(rng)
                    first = False
                    delay = rng.uniform(*answer_after_s)
                    task = asyncio.create_task(
                        _answer(client, webhook, sms, text, delay, stop, say)
                    )
                    answering.add(task)
                    task.add_done_callback(answering.discard)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_s)
        finally:
            for task in answering:
                task.cancel()
            await asyncio.gather(*answering, return_exceptions=True)


def _later_answer(rng: random.Random) -> str:
    return rng.choices(LATER_ANSWERS, LATER_WEIGHTS)[0]


async def _answer(
    client: httpx.AsyncClient,
    webhook: Webhook,
    sms: Sms,
    text: str,
    delay_s: float,
    stop: asyncio.Event,
    say: Callable[[str], None],
) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay_s)
    if stop.is_set():
        return
    try:
        answered = await send_sms(client, webhook, sms.to, text)
    except (httpx.HTTPError, ElementTree.ParseError) as error:
        log.warning("family reply from %s not delivered: %s", masked(sms.to), error)
        return
    if answered.status != 200:
        log.warning("family reply from %s refused: HTTP %d", masked(sms.to), answered.status)
        return
    heard = f" and heard back {answered.reply[0]!r}" if answered.reply else ""
    say(f"Demo: the family on {masked(sms.to)} answered {text!r}{heard}")
