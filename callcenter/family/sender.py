"""The way out: Twilio's real client when this process has credentials, else the outbox.

Twilio's Python client is synchronous (requests), so every call runs in a worker thread and
the event loop never waits on the network. `TWILIO_API_BASE` points the real client at another
host (the local fake in the tests) through the API domain's `base_url`, nothing patched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from typing import Protocol

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from callcenter.family.service import PERMANENT_ERRORS
from kernel.settings import Settings

# A message found in Twilio's log was created at most this long before our attempt began
# (clocks differ between this machine and Twilio's).
CLOCK_SKEW = dt.timedelta(minutes=5)
RECONCILE_PAGE = 50


@dataclasses.dataclass(frozen=True, slots=True)
class Accepted:
    """Twilio created the message."""

    sid: str
    status: str


@dataclasses.dataclass(frozen=True, slots=True)
class Refused:
    """Twilio answered no: `permanent` for this number (fall over), else worth a retry."""

    code: int | None
    message: str
    permanent: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Unknown:
    """No clear answer (timeout, dropped connection, a 5xx): Twilio may or may not have it."""

    message: str


SendResult = Accepted | Refused | Unknown


@dataclasses.dataclass(frozen=True, slots=True)
class Outgoing:
    """One message as it leaves: its job, to, text, and when this attempt began."""

    job_id: int
    to: str
    body: str
    started_at: dt.datetime


class SmsGateway(Protocol):
    """Where messages go: `mode` is 'twilio' or 'outbox'."""

    mode: str

    async def send(self, message: Outgoing) -> SendResult:
        """Hand one message over."""
        ...

    async def find(self, message: Outgoing) -> list[Accepted]:
        """Messages Twilio holds that match this attempt (raises CannotTellError if it cannot say)."""
        ...

    def close(self) -> None:
        """Let go of connections."""
        ...


class CannotTellError(Exception):
    """Twilio could not be asked whether it has a message (so nothing may be resent yet)."""


class OutboxGateway:
    """No credentials: messages are recorded in the database (the outbox), nothing is sent."""

    mode = "outbox"

    async def send(self, message: Outgoing) -> SendResult:
        raise NotImplementedError("the outbox records messages; it never sends them")

    async def find(self, message: Outgoing) -> list[Accepted]:
        raise CannotTellError("no Twilio credentials in this process to look the message up")

    def close(self) -> None:
        pass


class TwilioGateway:
    """Twilio's Messages API through its official client."""

    mode = "twilio"

    def __init__(self, settings: Settings) -> None:
        token = settings.twilio_auth_token
        if not settings.twilio_account_sid or token is None:
            raise ValueError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are needed to send")
        self._http = TwilioHttpClient(timeout=settings.sms_timeout_s)
        self._client = Client(
            settings.twilio_account_sid, token.get_secret_value(), http_client=self._http
        )
        if settings.twilio_api_base:
            self._client.api.base_url = settings.twilio_api_base.rstrip("/")
        self._from = settings.twilio_from
        self._service = settings.twilio_messaging_service_sid
        self._callback = status_callback_url(settings)

    async def send(self, message: Outgoing) -> SendResult:
        return await asyncio.to_thread(self._create, message)

    def close(self) -> None:
        if self._http.session is not None:
            self._http.session.close()

    def _create(self, message: Outgoing) -> SendResult:
        try:
            created = self._client.messages.create(
                to=message.to,
                body=message.body,
                from_=self._from if not self._service else None,
                messaging_service_sid=self._service or None,
                status_callback=(
                    f"{self._callback}?message={message.job_id}" if self._callback else None
                ),
            )
        except TwilioRestException as error:
            return classify(error)
        except requests.exceptions.ConnectTimeout as error:
            return Refused(None, f"could not connect: {type(error).__name__}", permanent=False)
        except requests.exceptions.RequestException as error:
            return Unknown(f"no answer: {type(error).__name__}")
        return Accepted(str(created.sid), str(created.status or "queued"))

    async def find(self, message: Outgoing) -> list[Accepted]:
        return await asyncio.to_thread(self._find, message)

    def _find(self, message: Outgoing) -> list[Accepted]:
        try:
            recent = self._client.messages.list(to=message.to, limit=RECONCILE_PAGE)
        except (TwilioRestException, requests.exceptions.RequestException) as error:
            raise CannotTellError(f"Twilio's message log did not answer: {error}") from error
        return [
            Accepted(str(found.sid), str(found.status or "queued"))
            for found in recent
            if found.body == message.body
            and found.date_created is not None
            and found.date_created >= message.started_at - CLOCK_SKEW
        ]


def classify(error: TwilioRestException) -> SendResult:
    """What Twilio's error answer means for this message."""
    if error.status == 429:
        return Refused(error.code, "rate limited by Twilio (429)", permanent=False)
    if error.status >= 500:
        # A 5xx may come after the message was created: look before resending.
        return Unknown(f"Twilio error {error.status}")
    if error.code in PERMANENT_ERRORS or error.status == 400:
        return Refused(error.code, error.msg or f"Twilio error {error.code}", permanent=True)
    # 401/403/404: our account or configuration, not this number; retried, and logged loudly.
    return Refused(error.code, f"Twilio refused the request ({error.status})", permanent=False)


def status_callback_url(settings: Settings) -> str | None:
    """Where Twilio posts delivery receipts, or None when this centre has no public URL."""
    if not settings.sms_public_url:
        return None
    return settings.sms_public_url.rstrip("/") + "/api/sms/status"


def gateway_for(settings: Settings) -> SmsGateway:
    """The real client when credentials and a sender are set, else the outbox."""
    return TwilioGateway(settings) if settings.sms_mode == "twilio" else OutboxGateway()
