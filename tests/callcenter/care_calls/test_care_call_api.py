"""The care-call API on SQLite and PostgreSQL: the day's list (made by the app's own loop when
it starts) and who calls now, a call opened to make it, tries recorded: two unanswered in a row
send a welfare visit to the community, an answer closes the call and what it found is acted on;
a follow-up day, a weather warning, the counts and the report; who may see and do what."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert, select, update

from kernel.models import (
    AuditEntry,
    CareCall,
    CareCallStatus,
    Elder,
    IncidentEntry,
    Shift,
)
from kernel.models.elders import LifeStatus
from kernel.settings import Settings
from tests.callcenter.care_calls.conftest import (
    GUILAN,
    GUOQIANG,
    JIANGUO,
    XIUYING,
    Sessions,
    Street,
    at_local,
    make_list,
    today,
)
from tests.conftest import free_port
from tests.factories import sign_in

# The app's loop makes the day's list as it starts; a loaded machine may take a few seconds.
LIST_MADE_WITHIN_S = 30


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    """First weekly calls all today, and elders called at any hour (so that who calls now
    depends on the roster alone, whatever the hour of the test)."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", mqtt_port=free_port(),
        care_calls_first_spread_days=1, care_calls_hours="00:00-00:00",
    )  # fmt: skip


@pytest.fixture
async def hehua_on_duty(sessions: Sessions, street: Street) -> None:
    """Only ph03-w1 (禾花) is on duty, for the next hours: 禾花 calls its own elders, the street
    centre calls the rest, and a welfare visit goes to 禾花 whatever the hour."""
    now = dt.datetime.now(dt.UTC)
    async with sessions() as session, session.begin():
        await session.execute(delete(Shift))
        await session.execute(
            insert(Shift).values(
                staff_id=street.staff["ph03-w1"], centre_code="PH03",
                starts_at=now - dt.timedelta(hours=1), ends_at=now + dt.timedelta(hours=3),
            )
        )  # fmt: skip


def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def _refused(answer: Any) -> tuple[int, str]:
    return answer.status_code, answer.json().get("code")


def wait_for_list(client: TestClient, count: int) -> dict[str, dict[str, Any]]:
    """The open calls, by the elder's name, once the app's loop has made `count` of them."""
    deadline = time.monotonic() + LIST_MADE_WITHIN_S
    while True:
        found = _ok(client.get("/api/care-calls"))
        if len(found) >= count:
            return {call["elder_name"]: call for call in found}
        assert time.monotonic() < deadline, f"the day's list was not made: {found}"
        time.sleep(0.1)


def attempt(client: TestClient, call: dict[str, Any], **body: Any) -> dict[str, Any]:
    result: dict[str, Any] = _ok(client.post(f"/api/care-calls/{call['id']}/attempts", json=body))
    return result


async def test_the_day_s_list_and_a_call_opened_to_make_it(
    client: TestClient, street: Street, sessions: Sessions, hehua_on_duty: None
) -> None:
    sign_in(client, "op1")
    calls = wait_for_list(client, 3)
    assert set(calls) == {XIUYING, GUILAN, JIANGUO}
    xiuying = calls[XIUYING]
    assert (xiuying["phone"], xiuying["reasons"], xiuying["status"]) == (
        "138****8000", ["living_alone"], "due",
    )  # fmt: skip
    assert (xiuying["due_on"], xiuying["overdue"], xiuying["tries"]) == (
        today(client.app.state.settings).isoformat(), False, 0,  # type: ignore[attr-defined]
    )  # fmt: skip
    assert calls[GUILAN]["reasons"] == ["dementia"]
    # 禾花 has someone on duty and calls its own; nobody is on duty at 白坭坑: the street calls.
    assert (xiuying["caller_centre"], calls[JIANGUO]["caller_centre"]) == ("PH03", "PH00")
    street_now = _ok(client.get("/api/care-calls?caller=PH00"))
    assert [c["elder_name"] for c in street_now] == [JIANGUO]

    detail = _ok(client.get(f"/api/care-calls/{xiuying['id']}"))
    assert detail["numbers"][0] == {
        "whose": "elder", "name": XIUYING, "relation": None, "phone": "13800138000",
    }  # fmt: skip
    assert [(n["whose"], n["relation"]) for n in detail["numbers"][1:]] == [("contact", "儿子")]
    assert (detail["living_situation"], detail["attempts"]) == ("alone", [])

    async with sessions() as session:
        opened = await session.execute(
            select(AuditEntry.actor, AuditEntry.subject_id).where(
                AuditEntry.action == "care_call.opened"
            )
        )
        assert opened.all() == [(f"staff:{street.staff['op1']}", str(xiuying["id"]))]

    # A community worker sees and works their own centre's calls only.
    sign_in(client, "ph03-w1")
    assert {c["elder_name"] for c in _ok(client.get("/api/care-calls"))} == {XIUYING, GUILAN}
    assert _ok(client.get("/api/care-calls?centre=PH02")) == []
    other = f"/api/care-calls/{calls[JIANGUO]['id']}"
    assert client.get(other).status_code == 404
    assert client.post(f"{other}/attempts", json={"answered": False}).status_code == 404
    assert [c["centre_code"] for c in _ok(client.get("/api/care-calls/today"))["centres"]] == [
        "PH03"
    ]


async def _timeline(sessions: Sessions, incident_id: int) -> list[tuple[str, dict[str, Any]]]:
    async with sessions() as session:
        rows = await session.execute(
            select(IncidentEntry.action, IncidentEntry.detail)
            .where(IncidentEntry.incident_id == incident_id)
            .order_by(IncidentEntry.id)
        )
        return [(action, detail) for action, detail in rows]


async def test_two_unanswered_tries_in_a_row_send_a_welfare_visit_to_the_community(
    client: TestClient, street: Street, sessions: Sessions, hehua_on_duty: None
) -> None:
    sign_in(client, "op1")
    call = wait_for_list(client, 3)[XIUYING]
    # The first try was made last night (the call is carried over until made); the second now.
    last_night = dt.datetime.now(dt.UTC) - dt.timedelta(hours=14)
    first = attempt(client, call, answered=False, called_at=last_night.isoformat())
    assert (first["incident_id"], first["call"]["status"]) == (None, "due")
    assert (first["call"]["tries"], first["call"]["unanswered_in_a_row"]) == (1, 1)
    second = attempt(client, call, answered=False, notes="响铃很久无人接")
    assert second["call"]["status"] == "not_reached"
    visit = _ok(client.get(f"/api/incidents/{second['incident_id']}"))
    assert (visit["kind"], visit["priority"], visit["centre_code"], visit["elder_id"]) == (
        "welfare", 3, "PH03", street.elders[XIUYING],
    )  # fmt: skip
    assert visit["assigned_staff_id"] == street.staff["ph03-w1"]
    opened = (await _timeline(sessions, second["incident_id"]))[0]
    assert opened[0] == "opened"
    assert opened[1]["reason"] == "care_call_unanswered" and opened[1]["note"] == "响铃很久无人接"
    assert dt.datetime.fromisoformat(opened[1]["since"]) == last_night
    # Off the list of calls to make, on today's closed ones; no more tries on it.
    assert XIUYING not in {c["elder_name"] for c in _ok(client.get("/api/care-calls"))}
    closed = _ok(client.get("/api/care-calls?done=true"))
    assert [(c["elder_name"], c["status"], c["incident_id"]) for c in closed] == [
        (XIUYING, "not_reached", second["incident_id"])
    ]
    assert _refused(
        client.post(f"/api/care-calls/{call['id']}/attempts", json={"answered": False})
    ) == (409, "care_call_closed")


async def test_an_answer_between_unanswered_tries_starts_the_count_again(
    client: TestClient, street: Street, sessions: Sessions, settings: Settings, hehua_on_duty: None
) -> None:
    sign_in(client, "op1")
    call = wait_for_list(client, 3)[XIUYING]
    attempt(client, call, answered=False)
    tomorrow = today(settings) + dt.timedelta(days=1)
    answered = attempt(client, call, answered=True, outcome="fine", follow_up_on=str(tomorrow))
    assert (answered["call"]["status"], answered["call"]["outcome"]) == ("done", "fine")
    assert answered["incident_id"] is None
    # The follow-up day puts her on that day's list, for that reason.
    await make_list(sessions, settings, at_local(settings, tomorrow, 9))
    follow_up = {c["elder_name"]: c for c in _ok(client.get("/api/care-calls"))}[XIUYING]
    assert follow_up["reasons"] == ["follow_up"] and follow_up["id"] != call["id"]
    once = attempt(client, follow_up, answered=False)
    assert (once["incident_id"], once["call"]["unanswered_in_a_row"]) == (None, 1)
    twice = attempt(client, follow_up, answered=False)
    assert twice["incident_id"] is not None


async def test_an_answer_closes_the_call_and_what_it_found_is_acted_on(
    client: TestClient, street: Street, sessions: Sessions, hehua_on_duty: None
) -> None:
    sign_in(client, "op1")
    calls = wait_for_list(client, 3)
    fine = attempt(client, calls[GUILAN], answered=True, outcome="fine", notes="女儿在家")
    assert (fine["call"]["status"], fine["incident_id"]) == ("done", None)
    unwell = attempt(client, calls[XIUYING], answered=True, outcome="unwell", notes="说头晕两天")
    visit = _ok(client.get(f"/api/incidents/{unwell['incident_id']}"))
    assert (visit["kind"], visit["priority"], visit["centre_code"]) == ("welfare", 2, "PH03")
    opened = (await _timeline(sessions, unwell["incident_id"]))[0][1]
    assert (opened["reason"], opened["note"]) == ("care_call_unwell", "说头晕两天")
    asked = attempt(client, calls[JIANGUO], answered=True, outcome="needs_visit")
    assert _ok(client.get(f"/api/incidents/{asked['incident_id']}"))["priority"] == 3
    assert _ok(client.get("/api/care-calls")) == []
    done = {c["elder_name"]: c["outcome"] for c in _ok(client.get("/api/care-calls?done=true"))}
    assert done == {GUILAN: "fine", XIUYING: "unwell", JIANGUO: "needs_visit"}


async def test_a_finding_on_an_elder_with_a_welfare_visit_open_is_a_step_on_it(
    client: TestClient, street: Street, sessions: Sessions, settings: Settings, hehua_on_duty: None
) -> None:
    sign_in(client, "op1")
    call = wait_for_list(client, 3)[XIUYING]
    tomorrow = today(settings) + dt.timedelta(days=1)
    first = attempt(client, call, answered=True, outcome="needs_visit", follow_up_on=str(tomorrow))
    await make_list(sessions, settings, at_local(settings, tomorrow, 9))
    follow_up = {c["elder_name"]: c for c in _ok(client.get("/api/care-calls"))}[XIUYING]
    again = attempt(client, follow_up, answered=True, outcome="unwell", notes="又说头晕")
    assert again["incident_id"] == first["incident_id"]  # the visit nobody has made yet
    visit = _ok(client.get(f"/api/incidents/{first['incident_id']}"))
    assert visit["priority"] == 2  # more urgent now
    step = (await _timeline(sessions, first["incident_id"]))[-1]
    assert step == ("care_call", {"reason": "care_call_unwell", "note": "又说头晕", "raised_to": 2})


async def test_a_try_is_checked(
    client: TestClient, street: Street, sessions: Sessions, settings: Settings
) -> None:
    sign_in(client, "op1")
    calls = wait_for_list(client, 3)
    url = f"/api/care-calls/{calls[XIUYING]['id']}/attempts"
    assert client.post(url, json={"answered": True}).status_code == 422  # what it found?
    assert client.post(url, json={"answered": False, "outcome": "fine"}).status_code == 422
    assert client.post(url, json={"answered": False, "notes": "x" * 2001}).status_code == 422
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert _refused(client.post(url, json={"answered": False, "called_at": later})) == (
        422, "called_in_the_future",
    )  # fmt: skip
    same_day = {"answered": True, "outcome": "fine", "follow_up_on": str(today(settings))}
    assert _refused(client.post(url, json=same_day)) == (422, "follow_up_not_ahead")
    async with sessions() as session, session.begin():
        await session.execute(
            update(Elder)
            .where(Elder.id == street.elders[XIUYING])
            .values(life_status=LifeStatus.DECEASED)
        )
    assert _refused(client.post(url, json={"answered": False})) == (409, "elder_departed")
    assert XIUYING not in {c["elder_name"] for c in _ok(client.get("/api/care-calls"))}
    async with sessions() as session:
        tries = await session.scalar(
            select(CareCall.status).where(CareCall.id == calls[XIUYING]["id"])
        )
    assert tries is CareCallStatus.DUE  # nothing was recorded


async def test_a_weather_warning_owes_today_a_call_to_the_80_and_over_living_alone(
    client: TestClient, street: Street
) -> None:
    warning = {"kind": "typhoon", "note": "台风橙色预警"}
    for refused in ("op1", "ph03-w1"):
        sign_in(client, refused)
        assert _refused(client.post("/api/care-calls/warnings", json=warning)) == (403, "forbidden")
    sign_in(client, "sup1")
    wait_for_list(client, 3)
    recorded = _ok(client.post("/api/care-calls/warnings", json=warning))
    assert (recorded["warning"]["kind"], recorded["calls"]) == ("typhoon", 1)
    calls = wait_for_list(client, 3)
    assert calls[JIANGUO]["reasons"] == ["living_alone", "weather"]  # 86, alone
    assert calls[XIUYING]["reasons"] == ["living_alone"]  # 76
    again = _ok(client.post("/api/care-calls/warnings", json=warning))
    assert again["warning"]["id"] == recorded["warning"]["id"] and again["calls"] == 1
    assert len(_ok(client.get("/api/care-calls"))) == 3
    assert [w["kind"] for w in _ok(client.get("/api/care-calls/warnings"))] == ["typhoon"]
    yesterday = str(dt.date.fromisoformat(recorded["warning"]["day"]) - dt.timedelta(days=1))
    assert _refused(
        client.post("/api/care-calls/warnings", json={"kind": "heat", "day": yesterday})
    ) == (422, "warning_day")


async def test_today_s_counts_and_the_report_by_centre(
    client: TestClient, street: Street, sessions: Sessions, settings: Settings, hehua_on_duty: None
) -> None:
    sign_in(client, "op1")
    calls = wait_for_list(client, 3)
    day = today(settings)
    attempt(client, calls[XIUYING], answered=True, outcome="fine")  # done today, on time
    attempt(client, calls[GUILAN], answered=False)
    attempt(client, calls[GUILAN], answered=False)  # not reached
    async with sessions() as session, session.begin():
        # 李建国's call was due yesterday: overdue. 陈国强's, due two days ago, was answered
        # yesterday by the street centre: late.
        await session.execute(
            update(CareCall)
            .where(CareCall.id == calls[JIANGUO]["id"])
            .values(due_on=day - dt.timedelta(days=1))
        )
        await session.execute(
            insert(CareCall).values(
                elder_id=street.elders[GUOQIANG], community_code="PH03",
                due_on=day - dt.timedelta(days=2), reasons=["after_incident"], status="done",
                created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2),
                closed_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
                closed_on=day - dt.timedelta(days=1), closed_by_centre="PH00", outcome="fine",
            )
        )  # fmt: skip
    counts = {c["centre_code"]: c for c in _ok(client.get("/api/care-calls/today"))["centres"]}
    assert len(counts) == 12
    assert {k: counts["PH03"][k] for k in ("due", "overdue", "done", "not_reached")} == {
        "due": 0, "overdue": 0, "done": 1, "not_reached": 1,
    }  # fmt: skip
    assert (counts["PH02"]["overdue"], counts["PH02"]["caller_centre"]) == (1, "PH00")
    assert counts["PH03"]["caller_centre"] == "PH03"
    assert _ok(client.get("/api/care-calls"))[0]["overdue"] is True

    report = _ok(client.get("/api/care-calls/report?days=7"))
    rows = {row["centre_code"]: row for row in report["centres"]}
    assert rows["PH03"] == {
        "centre_code": "PH03", "due": 3, "done": 2, "done_late": 1, "not_reached": 1,
        "overdue": 0, "by_street": 3,
    }  # fmt: skip
    assert rows["PH02"] == {
        "centre_code": "PH02", "due": 1, "done": 0, "done_late": 0, "not_reached": 0,
        "overdue": 1, "by_street": 0,
    }  # fmt: skip
    assert report["overall"]["due"] == 4 and report["overall"]["overdue"] == 1
    assert report["since"] == str(day - dt.timedelta(days=6)) and report["until"] == str(day)
    # One day back: 陈国强's call, due two days ago, is not in it.
    assert _ok(client.get("/api/care-calls/report?days=1"))["overall"]["due"] == 2
    sign_in(client, "ph03-w1")
    assert [r["centre_code"] for r in _ok(client.get("/api/care-calls/report"))["centres"]] == [
        "PH03"
    ]
