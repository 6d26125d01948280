"""A local fake of Twilio's Messages API: a real HTTP server the real twilio client talks to.

It answers like Twilio (201 with the message resource, status "queued"; 400 with Twilio's
error codes; 429; 500), lists messages by recipient, and on request posts delivery receipts
to the message's StatusCallback with a valid X-Twilio-Signature. A script says how the next
create requests go: "ok", ("error", http_status, twilio_code), "timeout" (answer too late,
nothing created), "accept_then_drop" (create it, then close the connection unanswered),
"hold" (create it, then answer only when `release()` is called).
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import email.utils
import json
import threading
import time
import uuid
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

    def __enter__(self) -> FakeTwilio:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    prefix = f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
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

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(parse_qsl(self.rfile.read(length).decode("utf-8")))
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
