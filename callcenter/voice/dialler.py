"""The way out: Twilio's Calls API through its real client.

Twilio's Python client is synchronous (requests), so the request runs in a worker thread and
the event loop never waits on the network. `TWILIO_API_BASE` points the real client at another
host (the local fake in the tests) through the API domain's `base_url`, nothing patched.
"""

from __future__ import annotations

import asyncio
import dataclasses

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from callcenter.voice.service import ERRORS, PROGRESS_EVENTS, CallUrls
from kernel.settings import Settings


@dataclasses.dataclass(frozen=True, slots=True)
class Placed:
    """Twilio took the call: it rings the operator's phone."""

    sid: str
    status: str


@dataclasses.dataclass(frozen=True, slots=True)
class Refused:
    """Twilio said no: nothing rings."""

    code: int | None
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class Unclear:
    """No clear answer (a timeout, a dropped connection, a 5xx): the call may ring or not."""

    reason: str


PlaceResult = Placed | Refused | Unclear


@dataclasses.dataclass(frozen=True, slots=True)
class Outgoing:
    """One call as it leaves: the operator's phone to ring (E.164), and where Twilio reports."""

    operator: str
    urls: CallUrls


class TwilioDialler:
    """Places calls through Twilio's Calls API; one per request (a person's click)."""

    def __init__(self, settings: Settings) -> None:
        token = settings.twilio_auth_token
        if not settings.twilio_account_sid or token is None or not settings.voice_caller_id:
            raise ValueError("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and a caller number are needed")
        # The same time limit as every Twilio API call of this centre (ELDERCARE_SMS_TIMEOUT_S):
        # the operator waits on the click for it.
        self._http = TwilioHttpClient(timeout=settings.sms_timeout_s)
        self._client = Client(
            settings.twilio_account_sid, token.get_secret_value(), http_client=self._http
        )
        if settings.twilio_api_base:
            self._client.api.base_url = settings.twilio_api_base.rstrip("/")
        self._from = settings.voice_caller_id
        self._ring_s = settings.voice_ring_s

    async def place(self, call: Outgoing) -> PlaceResult:
        """Ask Twilio to ring the operator's phone; our TwiML bridges it once they answer."""
        try:
            return await asyncio.to_thread(self._create, call)
        finally:
            self.close()

    def close(self) -> None:
        """Let go of the connection."""
        if self._http.session is not None:
            self._http.session.close()

    def _create(self, call: Outgoing) -> PlaceResult:
        try:
            created = self._client.calls.create(
                to=call.operator,
                from_=self._from,
                url=call.urls.twiml,
                method="POST",
                status_callback=call.urls.operator_status,
                status_callback_event=PROGRESS_EVENTS,
                status_callback_method="POST",
                timeout=self._ring_s,
            )
        except TwilioRestException as error:
            return classify(error)
        except requests.exceptions.ConnectTimeout as error:
            return Refused(
                None, f"无法连接语音服务 (could not reach Twilio, {type(error).__name__})"
            )
        except requests.exceptions.RequestException as error:
            return Unclear(
                f"语音服务未明确答复 (no clear answer from Twilio, {type(error).__name__})"
            )
        return Placed(str(created.sid), str(created.status or "queued"))


def classify(error: TwilioRestException) -> PlaceResult:
    """What Twilio's error answer to placing a call means."""
    if error.status >= 500:
        # A 5xx may come after the call was created: its callbacks will tell.
        return Unclear(f"语音服务出错 (Twilio error, HTTP {error.status})")
    if error.code in ERRORS:
        return Refused(error.code, ERRORS[error.code])
    if error.status == 429:
        return Refused(error.code, "语音服务繁忙，请稍后再拨 (Twilio is rate limiting, try again)")
    # 401/403/404: this centre's account or settings, not the number.
    return Refused(error.code, f"语音服务拒绝了呼叫 (Twilio refused the call, HTTP {error.status})")
