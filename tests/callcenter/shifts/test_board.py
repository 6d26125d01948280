"""The wall board's figures: open incidents by centre and by how long they have been open,
devices online by community, staff on duty, and today's calls answered within 60 s and 180 s
against the industry bar, counting a call once it is decided at a bar; for the street's staff."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.shifts.service import age_bands, answers_today
from kernel.models import Device, IncidentStatus
from kernel.settings import Settings
from tests.callcenter.shifts.conftest import Floor
from tests.conftest import free_port
from tests.factories import sign_in

S = dt.timedelta(seconds=1)
M = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)
NOW = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)  # 14:00 in Pinghu
TZ = ZoneInfo("Asia/Shanghai")


def test_a_call_counts_at_a_bar_once_it_is_decided_there() -> None:
    calls = [
        (NOW - 30 * S, None),  # ringing for 30 s: decided at neither bar yet
        (NOW - 10 * M, NOW - 10 * M + 40 * S),  # answered in 40 s
        (NOW - 5 * M, NOW - 5 * M + 100 * S),  # answered in 100 s: a miss at 60 s only
        (NOW - 90 * S, None),  # ringing for 90 s: a miss at 60 s, undecided at 180 s
        (NOW - 4 * M, None),  # ringing for 4 min: a miss at both
    ]
    answers = answers_today(calls, NOW, TZ)
    assert (answers.day, answers.calls, answers.waiting) == (dt.date(2026, 11, 23), 5, 1)
    at_60, at_180 = answers.shares
    assert (at_60.within_s, at_60.target, at_60.counted, at_60.answered) == (60, 0.975, 4, 1)
    assert (at_180.within_s, at_180.target, at_180.counted, at_180.answered) == (180, 0.99, 3, 2)
    assert (at_60.share, at_180.share) == (0.25, 2 / 3)
    nothing_yet = answers_today([(NOW - 10 * S, None)], NOW, TZ)
    assert [s.share for s in nothing_yet.shares] == [None, None]


def test_open_incidents_are_aged_by_the_escalation_settings_and_the_shift(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, mqtt_port=free_port(),  # type: ignore[call-arg]
                        supervisor_escalate_after_s=120, onsite_escalate_after_s=1200)  # fmt: skip
    bands = [(b.key, b.from_s, b.until_s) for b in age_bands(settings)]
    assert bands == [("escalating", 0, 120), ("handling", 120, 1200),
                     ("this_shift", 1200, 8 * 3600), ("earlier", 8 * 3600, None)]  # fmt: skip


def _online(floor: Floor, states: dict[str, bool | None]) -> None:
    """Devices online (True), dropped offline (False) or never seen (None)."""
    seen = dt.datetime.now(dt.UTC)

    async def work(session: AsyncSession) -> None:
        for device, online in states.items():
            await session.execute(
                update(Device).where(Device.id == device).values(
                    online=bool(online), last_seen_at=None if online is None else seen
                )
            )  # fmt: skip

    floor.run(work)


def test_the_board_counts_open_incidents_devices_staff_and_todays_answers(floor: Floor) -> None:
    floor.roster(("op1", "PH00", -1 * H, 7 * H), ("op2", "PH00", 7 * H, 15 * H))
    now = dt.datetime.now(dt.UTC)
    ages = {"ringing": 30 * S, "answered": 10 * M, "late": 5 * M, "missed": 4 * M,
            "resolved": 20 * M}  # fmt: skip
    floor.incident("PH03", ago=ages["ringing"], holder="ph03-w1", now=now)
    floor.incident("PH03", ago=ages["answered"], priority=2, acknowledged_after=40 * S, now=now)
    floor.incident("PH00", ago=ages["late"], holder="op1", acknowledged_after=100 * S, now=now)
    floor.incident("PH01", ago=ages["missed"], priority=3, now=now)
    floor.incident("PH03", ago=ages["resolved"], acknowledged_after=20 * S, now=now,
                   status=IncidentStatus.RESOLVED)  # fmt: skip
    floor.incident("PH02", ago=2 * H, priority=4)  # device alarms: not calls
    floor.incident("PH02", ago=9 * H, priority=4)
    terminal, monitor = floor.hehua_devices
    baini_terminal, baini_monitor = floor.baini_devices
    _online(floor, {terminal: True, monitor: None, baini_terminal: False, baini_monitor: True})

    with floor.client() as client:
        sign_in(client, "ph03-w1")
        assert client.get("/api/board").status_code == 403
        sign_in(client, "op1")
        board = client.get("/api/board").json()

    assert [b["key"] for b in board["age_bands"]] == [
        "escalating", "handling", "this_shift", "earlier",
    ]  # fmt: skip
    incidents = {c["centre_code"]: c for c in board["incidents"]}
    assert len(incidents) == 13 and board["incidents"][0]["centre_code"] == "PH00"
    hehua = incidents["PH03"]
    assert (hehua["open"], hehua["p1"], hehua["unacknowledged"]) == (2, 1, 1)
    assert hehua["by_age"] == [1, 1, 0, 0]
    assert incidents["PH02"]["by_age"] == [0, 0, 1, 1]
    assert incidents["PH04"] == {"centre_code": "PH04", "open": 0, "p1": 0, "unacknowledged": 0,
                                 "by_age": [0, 0, 0, 0], "oldest_opened_at": None}  # fmt: skip
    street = board["street"]
    assert (street["centre_code"], street["open"], street["p1"]) == ("all", 6, 2)
    assert street["by_age"] == [1, 3, 1, 1]
    assert street["oldest_opened_at"] == incidents["PH02"]["oldest_opened_at"]

    devices = {d["community_code"]: d for d in board["devices"]}
    assert devices["PH03"] == {"community_code": "PH03", "devices": 2, "online": 1, "offline": 0,
                               "never_connected": 1, "share_online": 0.5}  # fmt: skip
    assert (devices["PH02"]["online"], devices["PH02"]["offline"]) == (1, 1)

    staff = {c["centre_code"]: c for c in board["staff"]}
    assert [p["name"] for p in staff["PH00"]["on_duty"]] != []
    assert {p["staff_id"] for p in staff["PH00"]["next"]} == {floor.staff["op2"]}

    # Today's calls: those opened since the street's midnight as of the board's moment (a run
    # just after midnight has fewer).
    at = dt.datetime.fromisoformat(board["at"])
    midnight = dt.datetime.combine(at.astimezone(TZ).date(), dt.time(), TZ)
    today = {name for name, age in ages.items() if now - age >= midnight}
    answers = board["answers"]
    assert answers["calls"] == len(today)
    assert answers["waiting"] == len(today & {"ringing"})
    at_60, at_180 = answers["shares"]
    assert at_60["counted"] == len(today - {"ringing"})
    assert at_60["answered"] == len(today & {"answered", "resolved"})
    assert at_180["answered"] == len(today & {"answered", "resolved", "late"})
    if today == set(ages):
        assert (at_60["share"], at_180["share"]) == (0.5, 0.75)
    assert (at_60["target"], at_180["target"]) == (0.975, 0.99)
