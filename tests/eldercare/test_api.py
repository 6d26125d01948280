"""The HTTP API around the foundation: health, centres, on-duty, register review."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path

from fastapi.testclient import TestClient

from callcenter.register import columns
from eldercare.app import create_app
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.database import create_engine, session_factory
from kernel.models import StaffRole
from kernel.settings import Settings
from tests.databases import migrate_fresh
from tests.factories import AS_OF, acting_as, create_register_csv, create_row


async def _prepare(settings: Settings, tmp_path: Path) -> None:
    engine = create_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    rows = [create_row(), create_row(**{columns.NATIONAL_ID: "123"})]
    await import_register_file(
        sessions, create_register_csv(tmp_path / "r.csv", rows), as_of=AS_OF, actor="test"
    )
    await ensure_staff_and_roster(sessions, settings)
    await engine.dispose()


def test_health_centres_on_duty_and_register_review(settings: Settings, tmp_path: Path) -> None:
    migrate_fresh(settings.effective_database_url)
    asyncio.run(_prepare(settings, tmp_path))
    with TestClient(acting_as(create_app(settings))) as client:
        health = client.get("/healthz").json()
        assert (health["status"], health["elders"], health["devices"]) == ("ok", 1, 2)

        centres = client.get("/api/centres").json()
        assert [c["code"] for c in centres][:2] == ["PH00", "PH01"] and len(centres) == 13

        street_at_3am = dt.datetime.combine(
            dt.datetime.now(settings.tz).date(), dt.time(3), settings.tz
        )
        on_duty = client.get("/api/on-duty", params={"at": street_at_3am.isoformat()}).json()
        assert {p["centre_code"] for p in on_duty} == {"PH00"}  # community centres are closed
        assert {p["role"] for p in on_duty} == {"operator", "supervisor"}

        (run,) = client.get("/api/register/imports").json()
        assert (run["accepted"], run["rejected"]) == (1, 1)
        issues = client.get(f"/api/register/imports/{run['id']}/issues").json()
        assert [(i["row_number"], i["code"]) for i in issues] == [(3, "national_id_check")]
        assert "raw" not in issues[0]


def test_unknown_import_is_a_clear_404(settings: Settings) -> None:
    migrate_fresh(settings.effective_database_url)
    with TestClient(acting_as(create_app(settings))) as client:
        answer = client.get("/api/register/imports/999/issues")
        assert answer.status_code == 404
        assert answer.json() == {
            "code": "not_found",
            "message": "register import 999 does not exist",
        }
        assert client.get("/api/register/imports/abc/issues").status_code == 422


def test_health_says_unavailable_when_the_database_is_down(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        database_url="postgresql+asyncpg://nobody:x@127.0.0.1:9/none",
    )
    with TestClient(acting_as(create_app(settings, mqtt=False))) as client:
        answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["status"] == "unavailable"


# Open without signing in: the public centres' list, signing in itself, and Twilio's receipts
# (which carry Twilio's signature instead).
PUBLIC_API = {("get", "/api/centres"), ("post", "/api/auth/sign-in"), ("post", "/api/sms/status")}
# The SMS a family member sends us, which Twilio signs too.
PUBLIC_API |= {("post", "/api/sms/inbound")}
# Twilio's requests about a call an operator placed: our TwiML, each leg's status, the Dial's
# end; refused (403) unless Twilio signed them (tests/callcenter/voice/).
PUBLIC_API |= {
    ("post", f"/api/voice/calls/{{call_id}}/{what}") for what in ("twiml", "status", "dialled")
}


def test_every_api_route_but_the_public_ones_refuses_a_caller_who_has_not_signed_in(
    settings: Settings,
) -> None:
    migrate_fresh(settings.effective_database_url)
    app = create_app(settings, mqtt=False)
    with TestClient(app) as client:
        open_to_anyone = []
        for path, operations in app.openapi()["paths"].items():
            if not path.startswith("/api/"):
                continue
            for method in operations:
                answer = client.request(method, re.sub(r"\{[^}]+\}", "1", path), json={})
                if answer.status_code != 401 and (method, path) not in PUBLIC_API:
                    open_to_anyone.append(f"{method.upper()} {path}: {answer.status_code}")
    assert open_to_anyone == []


def test_refused_device_messages_are_for_the_floor_and_register_review_for_the_office(
    settings: Settings,
) -> None:
    migrate_fresh(settings.effective_database_url)
    worker = acting_as(create_app(settings, mqtt=False), StaffRole.COMMUNITY_WORKER)
    with TestClient(worker) as client:
        assert client.get("/api/gateway/rejects").status_code == 403
        assert client.get("/api/register/imports").status_code == 403
    operator = acting_as(create_app(settings, mqtt=False), StaffRole.OPERATOR)
    with TestClient(operator) as client:
        assert client.get("/api/gateway/rejects").status_code == 200
        assert client.get("/api/register/imports").status_code == 403
