"""Supervisors' reports: answer shares against the industry bar, time to on site, CSV, roles."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import update

from callcenter.register import columns
from callcenter.reports.schemas import IncidentFacts
from callcenter.reports.service import answer_shares, build_report, incidents_csv
from eldercare.jobs import import_register_file
from kernel.database import create_engine, session_factory
from kernel.models import Device
from kernel.settings import Settings
from tests.callcenter.accounts.test_sign_in import staffed_app
from tests.factories import AS_OF, create_register_csv, create_row, sign_in

T0 = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)  # 14:00 in Pinghu
TZ = ZoneInfo("Asia/Shanghai")


def facts(n: int, *, ack_s: float | None, priority: int = 1, on_site_min: float | None = None,
          centre: str = "PH03", kind: str = "sos", outcome: str | None = None,
          counted: bool = True) -> IncidentFacts:  # fmt: skip
    return IncidentFacts(
        id=n, opened_at=T0, centre_code=centre, kind=kind, priority=priority, status="resolved",
        acknowledged_at=T0 + dt.timedelta(seconds=ack_s) if ack_s is not None else None,
        on_site_at=T0 + dt.timedelta(minutes=on_site_min) if on_site_min is not None else None,
        outcome=outcome, counted=counted,
    )  # fmt: skip


def test_shares_count_the_calls_answered_in_time() -> None:
    incidents = [
        facts(1, ack_s=12, on_site_min=9),
        facts(2, ack_s=60, on_site_min=15),
        facts(3, ack_s=95),
        facts(4, ack_s=None),  # never acknowledged: a miss at both bars
        facts(5, ack_s=None, priority=4, kind="technical", counted=False),
    ]
    shares = answer_shares("PH03", incidents)
    assert (shares.calls, shares.within_60s, shares.within_180s) == (4, 2, 3)
    assert (shares.share_60s, shares.share_180s) == (0.5, 0.75)
    assert shares.median_on_site_min == 12.0
    assert answer_shares("none", []).share_60s is None


def test_the_report_groups_by_centre_and_local_day_and_counts_types_and_outcomes() -> None:
    late_evening = dt.datetime(2026, 11, 23, 16, 30, tzinfo=dt.UTC)  # 00:30 next day, local
    incidents = [
        facts(1, ack_s=5, outcome="assistance_given"),
        facts(2, ack_s=200, centre="PH01", kind="fall", outcome="false_alarm"),
        IncidentFacts(3, late_evening, "PH00", "sos", 1, "new", None, None, None),
    ]
    report = build_report(incidents, [], T0, T0 + dt.timedelta(days=1), TZ)
    assert [c.key for c in report.per_centre] == ["PH00", "PH01", "PH03"]
    assert [d.key for d in report.per_day] == ["2026-11-23", "2026-11-24"]
    assert report.by_kind == {"sos": 2, "fall": 1}
    assert report.by_outcome == {"assistance_given": 1, "false_alarm": 1, "open": 1}
    assert (report.target_60s, report.target_180s) == (0.975, 0.99)


def test_the_csv_has_one_row_per_incident_in_local_time_and_opens_in_excel() -> None:
    text = incidents_csv([facts(7, ack_s=30.25, on_site_min=11.04)], TZ)
    header, row = text.lstrip("\ufeff").splitlines()
    assert text.startswith("\ufeff") and header.startswith("id,opened_local,centre")
    assert row == "7,2026-11-23 14:00:00,PH03,sos,1,resolved,30.2,11.0,,1"


def test_reports_are_for_supervisors_and_admins(settings: Settings) -> None:
    with TestClient(staffed_app(settings)) as client:
        sign_in(client, "op1")
        assert client.get("/api/reports/summary").status_code == 403
        sign_in(client, "admin")
        assert client.get("/api/reports/summary").status_code == 200
        sign_in(client, "sup1")
        summary = client.get("/api/reports/summary?days=30").json()
        assert summary["overall"]["calls"] == 0
        csv = client.get("/api/reports/incidents.csv")
        assert csv.headers["content-type"].startswith("text/csv")


def test_devices_dropped_offline_are_told_apart_from_devices_never_connected(
    settings: Settings, tmp_path: Path
) -> None:
    app = staffed_app(settings)
    rows = [create_row(), create_row()]  # a terminal and a health monitor each

    async def prepare() -> None:
        engine = create_engine(settings.effective_database_url)
        sessions = session_factory(engine)
        csv = create_register_csv(tmp_path / "r.csv", rows)
        await import_register_file(sessions, csv, as_of=AS_OF, actor="test")
        async with sessions() as session, session.begin():
            seen = dt.datetime.now(dt.UTC)
            online = {rows[0][columns.SOS_TERMINAL]: True, rows[1][columns.SOS_TERMINAL]: False}
            for device, is_online in online.items():  # the two monitors: never seen
                await session.execute(
                    update(Device)
                    .where(Device.id == device)
                    .values(online=is_online, last_seen_at=seen)
                )
        await engine.dispose()

    asyncio.run(prepare())
    with TestClient(app) as client:
        sign_in(client, "sup1")
        (hehua,) = client.get("/api/reports/summary").json()["devices_offline"]
    assert (hehua["community_code"], hehua["devices"]) == ("PH03", 4)
    assert (hehua["offline"], hehua["never_connected"]) == (1, 2)
