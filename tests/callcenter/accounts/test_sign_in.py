"""Sign-in over the API: the session cookie, sign-out, expiry, bearer tokens, roles, the audit."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from eldercare.app import create_app
from eldercare.jobs import ensure_staff_and_roster
from kernel.database import create_engine, session_factory
from kernel.settings import Settings
from tests.databases import migrate_fresh
from tests.factories import TEST_PASSWORD, create_passwords, sign_in


def staffed_app(settings: Settings) -> FastAPI:
    """The app on a migrated database with the demo staff, every one with TEST_PASSWORD."""
    migrate_fresh(settings.effective_database_url)

    async def prepare() -> None:
        engine = create_engine(settings.effective_database_url)
        sessions = session_factory(engine)
        await ensure_staff_and_roster(sessions, settings)
        await create_passwords(sessions)
        await engine.dispose()

    asyncio.run(prepare())
    app = create_app(settings, mqtt=False)
    return app


def audit(settings: Settings, action: str) -> list[tuple[str, str, str]]:
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        return db.execute(
            "SELECT actor, subject_id, detail FROM audit_log WHERE action = ? ORDER BY id",
            (action,),
        ).fetchall()


def test_signing_in_sets_an_http_only_cookie_and_me_names_the_person(settings: Settings) -> None:
    with TestClient(staffed_app(settings)) as client:
        assert client.get("/api/auth/me").status_code == 401
        answer = client.post(
            "/api/auth/sign-in", json={"username": "op1", "password": TEST_PASSWORD}
        )
        assert answer.status_code == 200
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert "token" not in answer.json()
        me = client.get("/api/auth/me").json()
        assert (me["username"], me["role"], me["centre_code"]) == ("op1", "operator", "PH00")
        assert client.get("/api/incidents").status_code == 200
    ((actor, subject, detail),) = audit(settings, "auth.sign_in")
    assert (actor, subject) == (f"staff:{me['staff_id']}", str(me["staff_id"]))
    assert '"operator"' in detail


def test_a_wrong_password_is_refused_and_audited_without_what_was_typed(
    settings: Settings,
) -> None:
    with TestClient(staffed_app(settings)) as client:
        wrong = client.post("/api/auth/sign-in", json={"username": "op1", "password": "guess"})
        assert (wrong.status_code, wrong.json()["code"]) == (401, "sign_in_refused")
        nobody = client.post(
            "/api/auth/sign-in", json={"username": "my-password-by-mistake", "password": "x"}
        )
        assert (nobody.status_code, nobody.json()) == (401, wrong.json())
        assert client.get("/api/auth/me").status_code == 401
    failures = audit(settings, "auth.sign_in_failed")
    assert [(actor, subject) for actor, subject, _ in failures][1] == ("anonymous", "unknown")
    assert "wrong_password" in failures[0][2] and "unknown_user" in failures[1][2]
    assert not any("my-password-by-mistake" in str(row) for row in failures)


def test_an_admins_new_password_lifts_the_hold_that_failures_put_on_an_account(
    settings: Settings,
) -> None:
    with TestClient(staffed_app(settings)) as client:
        codes = [
            client.post(
                "/api/auth/sign-in", json={"username": "ph03-w1", "password": f"guess{n}"}
            ).json()["code"]
            for n in range(6)
        ]
        assert codes == ["sign_in_refused"] * 6  # never a 423 that says the account exists
        right = client.post(
            "/api/auth/sign-in", json={"username": "ph03-w1", "password": TEST_PASSWORD}
        )
        assert (right.status_code, right.json()["code"]) == (401, "sign_in_refused")

        admin = TestClient(client.app, client=("198.51.100.9", 50000))
        sign_in(admin, "admin")
        accounts = {a["username"]: a for a in admin.get("/api/auth/accounts").json()}
        assert accounts["ph03-w1"]["locked_until"] is not None
        assert accounts["op1"]["locked_until"] is None
        worker_id = accounts["ph03-w1"]["staff_id"]
        reset = admin.put(
            f"/api/auth/accounts/{worker_id}/password", json={"password": "new-password-1"}
        )
        assert reset.status_code == 204
        assert sign_in(client, "ph03-w1", "new-password-1")["role"] == "community_worker"
    reasons = [detail for _, _, detail in audit(settings, "auth.sign_in_failed")]
    assert ["wrong_password" in r for r in reasons] == [True] * 5 + [False] * 2
    assert all('"held"' in r for r in reasons[5:])


def test_signing_out_ends_the_session_for_good(settings: Settings) -> None:
    with TestClient(staffed_app(settings)) as client:
        sign_in(client, "sup1")
        cookie = client.cookies.get("eldercare_session")
        assert client.post("/api/auth/sign-out").status_code == 204
        assert client.get("/api/auth/me").status_code == 401
        client.cookies.set("eldercare_session", cookie or "")
        assert client.get("/api/auth/me").status_code == 401


def test_an_expired_session_is_refused(settings: Settings) -> None:
    with TestClient(staffed_app(settings)) as client:
        sign_in(client, "op2")
        with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
            db.execute("UPDATE staff_sessions SET expires_at = created_at")
        answer = client.get("/api/auth/me")
        assert (answer.status_code, answer.json()["code"]) == (401, "not_signed_in")


def test_an_api_client_may_sign_in_for_a_bearer_token(settings: Settings) -> None:
    with TestClient(staffed_app(settings)) as client:
        answer = client.post(
            "/api/auth/sign-in",
            json={"username": "op1", "password": TEST_PASSWORD, "token": True},
        )
        token = answer.json()["token"]
        assert "set-cookie" not in answer.headers and len(token) >= 40
        me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["username"] == "op1"
        with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
            (stored,) = db.execute("SELECT token_hash FROM staff_sessions").fetchone()
            (password_hash,) = db.execute(
                "SELECT password_hash FROM staff WHERE username = 'op1'"
            ).fetchone()
        assert stored != token and password_hash.startswith("$argon2id$")


def test_the_live_feed_wants_a_session_too(settings: Settings) -> None:
    with TestClient(staffed_app(settings)) as client:
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws/feed"):
            pass
        assert refused.value.code == 4401
        sign_in(client, "op1")
        with client.websocket_connect("/ws/feed"):
            pass
        cross_site = {"origin": "http://evil.example"}
        with (
            pytest.raises(WebSocketDisconnect),
            client.websocket_connect("/ws/feed", headers=cross_site),
        ):
            pass


def test_roles_the_admin_pages_and_account_list_are_for_admins_only(settings: Settings) -> None:
    with TestClient(staffed_app(settings)) as client:
        sign_in(client, "sup1")
        assert client.get("/api/auth/accounts").json()["code"] == "forbidden"
        assert client.get("/console/accounts", follow_redirects=False).headers["location"] == (
            "/console"
        )
        sign_in(client, "ph03-w1")
        assert client.get("/console/reports", follow_redirects=False).headers["location"] == (
            "/worker"
        )
        assert client.get("/", follow_redirects=False).headers["location"] == "/worker"
        client.post("/api/auth/sign-out")
        page = client.get("/console/incidents/7", follow_redirects=False)
        assert page.headers["location"] == "/sign-in?next=/console/incidents/7"
