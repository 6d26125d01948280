"""Notices of gaps reach the supervisors, on SQLite and PostgreSQL: their hand-over items list
the open ones until one of them acknowledges it (who, when; once; audited; heard live), the
floor reads but does not acknowledge, and a gap the roster since filled calls for nobody."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.coverage.tasks import check_coverage
from kernel.models import AuditEntry, utcnow
from kernel.settings import Settings
from tests.callcenter.coverage.conftest import local
from tests.callcenter.coverage.test_coverage_feed import heard
from tests.factories import sign_in

Sessions = async_sessionmaker[AsyncSession]


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def notice_of(notices: list[dict[str, Any]], centre: str, kind: str, starts_at: str) -> Any:
    found = [
        n for n in notices
        if (n["centre_code"], n["kind"], n["starts_at"]) == (centre, kind, starts_at)
    ]  # fmt: skip
    return found[0] if found else None


async def test_a_supervisor_acknowledges_a_gap_once_and_it_stops_calling_for_attention(
    client: TestClient, settings: Settings, sessions: Sessions
) -> None:
    day = dt.datetime.now(settings.tz).date() + dt.timedelta(days=1)
    evening = iso(local(settings, day, 19))  # the demo roster leaves 良安田 empty 19:00-20:00
    await check_coverage(sessions, settings, utcnow())

    sign_in(client, "op1")
    assert notice_of(client.get("/api/coverage/notices/open").json(), "PH08", "unrostered", evening)
    assert client.get("/api/shift/my-items").json()["coverage_notices"] == []  # the floor's not
    (notice,) = [
        n for n in client.get("/api/coverage/notices").json()
        if (n["centre_code"], n["starts_at"]) == ("PH08", evening)
    ]  # fmt: skip
    refused = client.post(f"/api/coverage/notices/{notice['id']}/acknowledge")
    assert refused.status_code == 403

    me = sign_in(client, "sup1")
    items = client.get("/api/shift/my-items").json()["coverage_notices"]
    waiting = notice_of(items, "PH08", "unrostered", evening)
    assert waiting is not None
    assert (waiting["acknowledged_by"], waiting["acknowledged_at"]) == (None, None)
    with client.websocket_connect("/ws/coverage") as feed:
        seen = client.post(f"/api/coverage/notices/{notice['id']}/acknowledge")
        assert seen.status_code == 200, seen.text
        assert heard(feed)["change"] == "notice_acknowledged"
    assert seen.json()["acknowledged_by"] == me["name"]
    first_at = seen.json()["acknowledged_at"]
    assert first_at is not None
    again = client.post(f"/api/coverage/notices/{notice['id']}/acknowledge").json()
    assert (again["acknowledged_by"], again["acknowledged_at"]) == (me["name"], first_at)
    items = client.get("/api/shift/my-items").json()["coverage_notices"]
    assert notice_of(items, "PH08", "unrostered", evening)["acknowledged_by"] == me["name"]
    async with sessions() as session:
        audited = (
            await session.scalars(
                select(AuditEntry.subject_id).where(
                    AuditEntry.action == "coverage.notice_acknowledged"
                )
            )
        ).all()
    assert audited == [str(notice["id"])]
    assert client.post("/api/coverage/notices/999999/acknowledge").status_code == 404


async def test_a_gap_the_roster_since_filled_calls_for_nobody(
    client: TestClient, settings: Settings, sessions: Sessions
) -> None:
    day = dt.datetime.now(settings.tz).date() + dt.timedelta(days=1)
    sign_in(client, "sup1")
    shifts = client.get(
        "/api/rosters", params={"centre": "PH03", "from": day.isoformat(), "to": day.isoformat()}
    ).json()
    for shift in shifts:
        assert client.put(
            f"/api/rosters/shifts/{shift['id']}/absence", json={"reason": "sick"}
        ).is_success
    await check_coverage(sessions, settings, utcnow())
    morning = iso(local(settings, day, 8))
    assert notice_of(client.get("/api/shift/my-items").json()["coverage_notices"],
                     "PH03", "absent", morning)  # fmt: skip
    # One is back: 禾花 is staffed, its notice stays on record but calls for nobody.
    assert client.delete(f"/api/rosters/shifts/{shifts[0]['id']}/absence").is_success
    assert notice_of(client.get("/api/coverage/notices").json(), "PH03", "absent", morning)
    assert not notice_of(client.get("/api/coverage/notices/open").json(), "PH03", "absent", morning)
    assert not notice_of(client.get("/api/shift/my-items").json()["coverage_notices"],
                         "PH03", "absent", morning)  # fmt: skip
