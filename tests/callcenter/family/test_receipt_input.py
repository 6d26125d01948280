"""The status callback takes whatever reaches it without a server error: a body that is not
UTF-8 is refused like any unsigned one, and a signed receipt's odd values are ignored."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from eldercare.app import create_app
from kernel.settings import Settings
from tests.callcenter.family.fake_twilio import AUTH_TOKEN
from tests.databases import migrate_fresh

PUBLIC_URL = "http://testserver"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def client(settings: Settings) -> TestClient:
    receiving = settings.model_copy(
        update={"twilio_auth_token": SecretStr(AUTH_TOKEN), "sms_public_url": PUBLIC_URL}
    )
    migrate_fresh(receiving.effective_database_url)
    return TestClient(create_app(receiving, mqtt=False))


def _signed(client: TestClient, query: str, params: dict[str, str]) -> int:
    url = f"{PUBLIC_URL}/api/sms/status" + (f"?{query}" if query else "")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    answer = client.post(
        url, content=urlencode(params), headers={**FORM, "X-Twilio-Signature": signature}
    )
    return answer.status_code


def test_a_body_that_is_not_utf8_is_refused_not_a_server_error(client: TestClient) -> None:
    with client:
        unsigned = client.post("/api/sms/status", content=b"MessageSid=\xff\xfe", headers=FORM)
        signed = client.post(
            "/api/sms/status",
            content=b"\xc3\x28MessageStatus=sent",
            headers={**FORM, "X-Twilio-Signature": "bm9wZQ=="},
        )
    assert (unsigned.status_code, unsigned.json()["code"]) == (403, "bad_signature")
    assert signed.status_code == 403


@pytest.mark.parametrize(
    ("query", "sid", "status"),
    [
        ("message=99999999999999999999", "SM0123456789abcdef0123456789abcdef", "sent"),
        ("message=%C2%B2", "SM0123456789abcdef0123456789abcdef", "sent"),  # a digit, not 0-9
    ],
    ids=["job-id-beyond-bigint", "superscript-two"],
)
def test_a_signed_receipt_with_odd_values_is_answered_not_a_server_error(
    client: TestClient, query: str, sid: str, status: str
) -> None:
    params = {"MessageSid": sid, "MessageStatus": status, "ErrorCode": "²"}
    with client:
        assert _signed(client, query, params) == 200
