"""Coverage through the API, on SQLite and PostgreSQL: the demo roster's gap, a walk beyond the
target, workers marked absent leaving a centre empty (audited, off duty for routing), the
notices of tomorrow's gaps given once, and who may see and change what."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.coverage.tasks import check_coverage
from callcenter.rosters import repository as rosters_repository
from kernel.models import AuditEntry, utcnow
from kernel.settings import Settings
from tests.callcenter.coverage.conftest import local
from tests.factories import sign_in

Sessions = async_sessionmaker[AsyncSession]


def tomorrow(settings: Settings) -> dt.date:
    return dt.datetime.now(settings.tz).date() + dt.timedelta(days=1)


def gaps_of(coverage: dict[str, Any], centre: str) -> list[tuple[str, str, str]]:
    return [
        (g["kind"], g["starts_at"], g["ends_at"]) for g in coverage["gaps"]
        if g["centre_code"] == centre
    ]  # fmt: skip


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_the_demo_roster_leaves_liangantian_empty_its_last_open_hour_and_homes_beyond_the_walk(
    client: TestClient, settings: Settings
) -> None:
    sign_in(client, "sup1")
    day = tomorrow(settings)
    answer = client.get("/api/coverage", params={"day": day.isoformat()})
    assert answer.status_code == 200, answer.text
    coverage = answer.json()
    assert (coverage["target_min"], coverage["walk_kmh"], coverage["detour_factor"]) == (15, 4, 1.3)
    assert gaps_of(coverage, "PH08") == [
        ("unrostered", iso(local(settings, day, 19)), iso(local(settings, day, 20)))
    ]
    hehua = next(c for c in coverage["centres"] if c["centre_code"] == "PH03")
    # One elder at the door (2 minutes), one a kilometre away (21.5 minutes on foot).
    assert {k: hehua["reach"][k] for k in ("elders", "p50_min", "max_min", "beyond_target")} == {
        "elders": 2, "p50_min": 2.0, "max_min": 21.5, "beyond_target": 1,
    }  # fmt: skip
    assert [g[0] for g in gaps_of(coverage, "PH03")] == ["beyond_target"]
    statuses = {h["hour"]: h["status"] for h in hehua["hours"]}
    assert (statuses[7], statuses[12], statuses[20]) == ("closed", "beyond_target", "closed")
    assert all(h["status"] != "gap" for h in next(
        c for c in coverage["centres"] if c["centre_code"] == "PH00")["hours"])  # fmt: skip


async def test_workers_signed_out_sick_leave_the_centre_empty_and_are_told_once_ahead(
    client: TestClient, settings: Settings, sessions: Sessions
) -> None:
    day = tomorrow(settings)
    sign_in(client, "sup1")
    shifts = client.get(
        "/api/rosters", params={"centre": "PH03", "from": day.isoformat(), "to": day.isoformat()}
    ).json()
    assert len(shifts) >= 2
    for shift in shifts:
        answer = client.put(f"/api/rosters/shifts/{shift['id']}/absence", json={"reason": "sick"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["absence"] == "sick"
    coverage = client.get("/api/coverage", params={"day": day.isoformat()}).json()
    absent = [g for g in coverage["gaps"] if g["centre_code"] == "PH03" and g["kind"] == "absent"]
    assert [(g["starts_at"], g["ends_at"]) for g in absent] == [
        (iso(local(settings, day, 8)), iso(local(settings, day, 20)))
    ]
    assert sorted(absent[0]["absent"]) == sorted(s["staff_name"] for s in shifts)
    # Nobody of 禾花 is on duty for routing either.
    async with sessions() as session:
        on_duty = await rosters_repository.on_duty(session, local(settings, day, 10), "PH03")
        assert on_duty == []
        audited = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.action == "roster.absence_recorded")
            )
        ).all()
    assert len(audited) == len(shifts)

    # The app's own round may have run meanwhile: either way a second round adds nothing.
    await check_coverage(sessions, settings, utcnow())
    assert await check_coverage(sessions, settings, utcnow()) == []
    notices = client.get("/api/coverage/notices").json()
    assert {(n["centre_code"], n["kind"]) for n in notices} >= {
        ("PH03", "absent"), ("PH08", "unrostered"),
    }  # fmt: skip
    assert len(notices) == len({(n["centre_code"], n["kind"], n["starts_at"]) for n in notices})
    absent_notice = next(n for n in notices if n["kind"] == "absent")
    assert (absent_notice["starts_at"], sorted(absent_notice["absent"])) == (
        iso(local(settings, day, 8)), sorted(s["staff_name"] for s in shifts),
    )  # fmt: skip

    # One comes back: the centre is staffed again, and coverage says so.
    back = client.delete(f"/api/rosters/shifts/{shifts[0]['id']}/absence")
    assert back.status_code == 200 and back.json()["absence"] is None
    coverage = client.get("/api/coverage", params={"day": day.isoformat()}).json()
    assert [g for g in gaps_of(coverage, "PH03") if g[0] == "absent"] == []


def test_only_the_street_reads_coverage_and_only_supervisors_mark_absences(
    client: TestClient, settings: Settings
) -> None:
    sign_in(client, "ph03-w1")
    assert client.get("/api/coverage").status_code == 403
    sign_in(client, "op1")
    assert client.get("/api/coverage").status_code == 200
    shifts = client.get("/api/rosters", params={"centre": "PH03"}).json()
    refused = client.put(f"/api/rosters/shifts/{shifts[0]['id']}/absence", json={"reason": "sick"})
    assert refused.status_code == 403
    far = (dt.datetime.now(settings.tz).date() + dt.timedelta(days=30)).isoformat()
    assert client.get("/api/coverage", params={"day": far}).status_code == 422
    sign_in(client, "sup1")
    assert (
        client.put("/api/rosters/shifts/999999/absence", json={"reason": "sick"}).status_code == 404
    )
    assert (
        client.put(
            f"/api/rosters/shifts/{shifts[0]['id']}/absence", json={"reason": "bored"}
        ).status_code
        == 422
    )
