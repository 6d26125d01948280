"""A local fake of Twilio's Messages and Calls APIs: a real HTTP server the real twilio client
talks to.

Messages: it answers like Twilio (201 with the message resource, status "queued"; 400 with
Twilio's error codes; 429; 500), lists messages by recipient, and on request posts delivery
receipts to the message's StatusCallback with a valid X-Twilio-Signature. A script says how the
next create requests go: "ok", ("error", http_status, twilio_code), "timeout" (answer too late,
nothing created), "accept_then_drop" (create it, then close the connection unanswered),
"hold" (create it, then answer only when `release()` is called).

Calls: a create is answered 201 (status "queued") and then played out in a thread the way
Twilio does it, every request signed with Twilio's algorithm: the call's progress events
(initiated, ringing, answered, completed or why not) to its StatusCallback; once the operator
"answers", the TwiML fetched from its Url; the `<Dial><Number>` in it dialled, with that leg's
events to the Number's statusCallback; the Dial's action requested when the dial ends (with
DialCallStatus, DialCallDuration and the parent's CallStatus: in-progress when the other party
hung up, completed when the operator did). `script_calls` says how the next calls go
(`CallOutcome`: answered, busy, no-answer or failed for each leg, who hangs up, how long they
talk; or ("error", http_status, twilio_code) to refuse the create). Time is not waited out:
durations are reported, and `hold` keeps a conversation going until `release_call()`.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime as dt
import email.utils
import json
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-twilio-auth-token"
SENDER = "+15005550006"
Step = str | tuple[str, int, int]
# The events a call reports unless its create asks for more (Twilio's default).
DEFAULT_EVENTS = ("completed",)


@dataclasses.dataclass(frozen=True)
class CallOutcome:
    """How a call placed through the fake goes: each leg answered, busy, no-answer or failed."""

    operator: str = "answered"
    callee: str = "answered"
    talk_s: int = 42
    hangs_up: str = "callee"  # callee | operator: who ends a conversation
    error_code: int | None = None  # a failed leg's Twilio error code (ErrorCode)
    sip_code: int | None = None  # a failed leg's SIP response code (SipResponseCode)
    hold: bool = False  # stay in the conversation until `release_call()`


CallStep = CallOutcome | tuple[str, int, int]


@dataclasses.dataclass
class _Leg:
    sid: str
    to: str
    from_: str
    callback: str | None
    events: tuple[str, ...]
    direction: str
    parent: str | None = None
    sequence: int = 0


class FakeTwilio:
    """The fake's state: the messages it created, every create request, and what comes next."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.messages: list[dict[str, Any]] = []
        self.create_requests: list[dict[str, str]] = []
        self.received_at: list[float] = []  # time.time() of each create request
        self._script: collections.deque[Step] = collections.deque()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.held = threading.Event()
        self.slow_s = 3.0
        self.calls: list[dict[str, Any]] = []
        self.call_requests: list[list[tuple[str, str]]] = []
        self._call_script: collections.deque[CallStep] = collections.deque()
        self._call_released = threading.Event()
        self.in_call = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where the fake listens (the twilio client's API base)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def script(self, *steps: Step) -> None:
        """How the next create requests go (then "ok" for the rest)."""
        with self._lock:
            self._script.extend(steps)

    def release(self) -> None:
        """Let a held create request answer."""
        self._released.set()

    def _next(self) -> Step:
        with self._lock:
            return self._script.popleft() if self._script else "ok"

    def create(self, form: dict[str, str]) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC)
        message: dict[str, Any] = {
            "sid": "SM" + uuid.uuid4().hex,
            "account_sid": self.account_sid,
            "to": form.get("To"),
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body"),
            "status": "queued",
            "direction": "outbound-api",
            "num_segments": "1",
            "num_media": "0",
            "date_created": email.utils.format_datetime(now, usegmt=True),
            "date_updated": email.utils.format_datetime(now, usegmt=True),
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "price": None,
            "price_unit": "USD",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/x.json",
            "subresource_uris": {},
            "_callback": form.get("StatusCallback"),
        }
        with self._lock:
            self.messages.append(message)
        return message

    def sent_to(self, to: str) -> list[dict[str, Any]]:
        """The messages created for this recipient, oldest first."""
        with self._lock:
            return [m for m in self.messages if m["to"] == to]

    def deliver(self, sid: str, status: str, error_code: int | None = None) -> int:
        """Post a signed delivery receipt to the message's StatusCallback; returns the answer's status."""
        message = next(m for m in self.messages if m["sid"] == sid)
        params = {
            "MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
            "AccountSid": self.account_sid, "To": message["to"], "From": message["from"] or "",
            "ApiVersion": "2010-04-01",
        }  # fmt: skip
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        url = message["_callback"]
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        answer = httpx.post(url, data=params, headers={"X-Twilio-Signature": signature})
        return answer.status_code

    # --- Calls ------------------------------------------------------------------------------

    def script_calls(self, *steps: CallStep) -> None:
        """How the next calls go (then answered by both, the other party hanging up)."""
        with self._lock:
            self._call_script.extend(steps)

    def release_call(self) -> None:
        """Let a held conversation end."""
        self._call_released.set()

    def _next_call(self) -> CallStep:
        with self._lock:
            return self._call_script.popleft() if self._call_script else CallOutcome()

    def create_call(self, pairs: list[tuple[str, str]], outcome: CallOutcome) -> dict[str, Any]:
        """Record a call Twilio took, and play it out in a thread of its own."""
        form = dict(pairs)
        now = dt.datetime.now(dt.UTC)
        events = tuple(v for k, v in pairs if k == "StatusCallbackEvent") or DEFAULT_EVENTS
        call: dict[str, Any] = {
            "sid": "CA" + uuid.uuid4().hex, "account_sid": self.account_sid,
            "to": form.get("To"), "from": form.get("From"), "status": "queued",
            "direction": "outbound-api", "api_version": "2010-04-01",
            "date_created": email.utils.format_datetime(now, usegmt=True),
            "date_updated": email.utils.format_datetime(now, usegmt=True),
            "start_time": None, "end_time": None, "duration": None, "price": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/x.json",
            "subresource_uris": {},
            "_url": form.get("Url"), "_callback": form.get("StatusCallback"), "_events": events,
            "_timeout": form.get("Timeout"), "_outcome": outcome, "_requests": [],
            "_done": threading.Event(), "_error": None,
        }  # fmt: skip
        with self._lock:
            self.calls.append(call)
        return call

    def play(self, call: dict[str, Any]) -> None:
        """Start playing a created call out (after its create was answered)."""
        threading.Thread(target=self._play, args=(call,), daemon=True).start()

    def wait_call(self, index: int, timeout_s: float = 30.0) -> dict[str, Any]:
        """The index-th call, once it is over (every request it made answered)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                call = self.calls[index] if index < len(self.calls) else None
            if call is not None and call["_done"].wait(max(0.0, deadline - time.monotonic())):
                if call["_error"]:
                    raise AssertionError(f"the fake's call went wrong: {call['_error']}")
                return call
            if time.monotonic() >= deadline:
                raise AssertionError(f"call {index} did not end within {timeout_s} s")
            time.sleep(0.05)

    def _play(self, call: dict[str, Any]) -> None:
        try:
            self._run(call, call["_outcome"])
        except Exception as error:  # the test reads it through wait_call
            call["_error"] = repr(error)
        finally:
            call["_done"].set()

    def _run(self, call: dict[str, Any], outcome: CallOutcome) -> None:
        parent = _Leg(
            call["sid"], call["to"], call["from"], call["_callback"], call["_events"],
            "outbound-api",
        )  # fmt: skip
        self._report(call, parent, "initiated")
        if outcome.operator in ("answered", "no-answer"):
            self._report(call, parent, "ringing")
        if outcome.operator != "answered":
            self._report(call, parent, outcome.operator, 0, outcome.error_code, outcome.sip_code)
            return
        self._report(call, parent, "answered")
        twiml = self._request(call, call["_url"], self._params(parent, "in-progress"))
        call["twiml"] = twiml
        dial = ET.fromstring(twiml).find("Dial")
        number = dial.find("Number") if dial is not None else None
        if dial is None or number is None or not (number.text or "").strip():
            self._report(call, parent, "completed", 1)
            return
        child = _Leg(
            "CA" + uuid.uuid4().hex, (number.text or "").strip(),
            dial.get("callerId") or call["from"], number.get("statusCallback"),
            tuple((number.get("statusCallbackEvent") or "completed").split()), "outbound-dial",
            parent=parent.sid,
        )  # fmt: skip
        call.update(dialled=child.to, caller_id=child.from_, dial_timeout=dial.get("timeout"))
        call["child_sid"] = child.sid
        self._report(call, child, "initiated")
        if outcome.callee != "answered":
            if outcome.callee == "no-answer":
                self._report(call, child, "ringing")
            self._report(call, child, outcome.callee, 0, outcome.error_code, outcome.sip_code)
            self._dial_ended(call, dial, parent, child, outcome.callee, 0, "in-progress")
            self._report(call, parent, "completed", 5)
            return
        self._report(call, child, "ringing")
        self._report(call, child, "answered")
        if outcome.hold:
            self.in_call.set()
            self._call_released.wait(60)
        talk, total = outcome.talk_s, outcome.talk_s + 5
        if outcome.hangs_up == "operator":
            # The operator's leg ends first; Twilio asks the action with that leg over.
            self._dial_ended(call, dial, parent, child, "completed", talk, "completed")
            self._report(call, child, "completed", talk)
            self._report(call, parent, "completed", total)
        else:
            self._report(call, child, "completed", talk)
            self._dial_ended(call, dial, parent, child, "completed", talk, "in-progress")
            self._report(call, parent, "completed", total)

    def _params(self, leg: _Leg, status: str) -> dict[str, str]:
        params = {
            "CallSid": leg.sid, "AccountSid": self.account_sid, "From": leg.from_, "To": leg.to,
            "Caller": leg.from_, "Called": leg.to, "CallStatus": status,
            "Direction": leg.direction, "ApiVersion": "2010-04-01",
        }  # fmt: skip
        if leg.parent is not None:
            params["ParentCallSid"] = leg.parent
        return params

    def _report(
        self,
        call: dict[str, Any],
        leg: _Leg,
        event: str,
        duration_s: int | None = None,
        error_code: int | None = None,
        sip_code: int | None = None,
    ) -> None:
        """One progress event of a leg to its status callback, if the leg asked for it."""
        progress = event in ("initiated", "ringing", "answered")
        if (event if progress else "completed") not in leg.events or not leg.callback:
            return
        leg.sequence += 1
        params = self._params(leg, "in-progress" if event == "answered" else event)
        params |= {
            "CallbackSource": "call-progress-events", "SequenceNumber": str(leg.sequence - 1),
            "Timestamp": email.utils.format_datetime(dt.datetime.now(dt.UTC), usegmt=True),
        }  # fmt: skip
        if not progress:
            params["CallDuration"] = str(duration_s or 0)
            if error_code is not None:
                params["ErrorCode"] = str(error_code)
            if sip_code is not None:
                params["SipResponseCode"] = str(sip_code)
        self._request(call, leg.callback, params)

    def _dial_ended(
        self,
        call: dict[str, Any],
        dial: ET.Element,
        parent: _Leg,
        child: _Leg,
        status: str,
        duration_s: int,
        parent_status: str,
    ) -> None:
        action = dial.get("action")
        if not action:
            return
        params = self._params(parent, parent_status) | {
            "DialCallStatus": status, "DialCallSid": child.sid,
            "DialCallDuration": str(duration_s), "DialBridged": str(status == "completed").lower(),
        }  # fmt: skip
        call["after_dial"] = self._request(call, action, params)

    def _request(self, call: dict[str, Any], url: str, params: dict[str, str]) -> str:
        """A signed POST to the app, as Twilio makes it; its answer must be a success."""
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        answer = httpx.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)
        call["_requests"].append((url, params, answer.status_code))
        if answer.status_code != 200:
            raise AssertionError(f"{url} answered {answer.status_code}: {answer.text}")
        return answer.text

    def __enter__(self) -> FakeTwilio:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._released.set()
        self._call_released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    prefix = f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    calls = f"/2010-04-01/Accounts/{fake.account_sid}/Calls.json"
    expected = "Basic " + base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode(
        "ascii"
    )

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            del format, args  # quiet

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            public = {k: v for k, v in body.items() if not k.startswith("_")}
            data = json.dumps(public).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") == expected:
                return True
            self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
            return False

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != prefix:
                self._answer(404, {"code": 20404, "message": "not found", "status": 404})
                return
            if not self._authorised():
                return
            query = dict(parse_qsl(url.query))
            with fake._lock:
                found = [m for m in fake.messages if m["to"] == query.get("To")]
            found.reverse()  # newest first, as Twilio lists them
            size = int(query.get("PageSize", "50"))
            self._answer(200, {
                "messages": found[:size], "page": 0, "page_size": size, "start": 0,
                "end": max(0, min(size, len(found)) - 1), "uri": self.path,
                "first_page_uri": self.path, "next_page_uri": None, "previous_page_uri": None,
            })  # fmt: skip

        def _create_call(self, pairs: list[tuple[str, str]]) -> None:
            with fake._lock:
                fake.call_requests.append(pairs)
            form = dict(pairs)
            missing = next(
                ((name, code) for name, code in (("To", 21201), ("From", 21213), ("Url", 21205))
                 if not form.get(name)),
                None,
            )  # fmt: skip
            step = fake._next_call() if missing is None else ("error", 400, missing[1])
            if isinstance(step, tuple):
                _, status, code = step
                self._answer(status, {
                    "code": code, "message": f"scripted error {code}", "status": status,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                })  # fmt: skip
                return
            call = fake.create_call(pairs, step)
            self._answer(201, call)
            fake.play(call)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            pairs = parse_qsl(self.rfile.read(length).decode("utf-8"), keep_blank_values=True)
            form = dict(pairs)
            if urlsplit(self.path).path == calls:
                if self._authorised():
                    self._create_call(pairs)
                return
            if urlsplit(self.path).path != prefix:
                self._answer(404, {"code": 20404, "message": "not found", "status": 404})
                return
            if not self._authorised():
                return
            with fake._lock:
                fake.create_requests.append(form)
                fake.received_at.append(time.time())
            step = fake._next()
            if isinstance(step, tuple):
                _, status, code = step
                self._answer(status, {
                    "code": code, "message": f"scripted error {code}", "status": status,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                })  # fmt: skip
                return
            if step == "timeout":
                time.sleep(fake.slow_s)  # longer than the client waits; nothing was created
                self.close_connection = True
                return
            message = fake.create(form)
            if step == "accept_then_drop":
                self.close_connection = True
                return  # created, then the connection closes with no answer
            if step == "hold":
                fake.held.set()
                fake._released.wait(30)
            self._answer(201, message)

    return Handler


@contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    """A running fake, stopped afterwards."""
    with FakeTwilio() as fake:
        yield fake
