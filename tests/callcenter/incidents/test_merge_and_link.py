"""An operator merges two incidents of one elder into one case (the merged one closed, pointing to
the case, its worker released) or links two matters; both timelines say so, both are audited,
and what makes no sense is refused."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from callcenter.incidents.service import raise_incident
from callcenter.pipeline.tasks import process_pending
from eldercare.app import create_app
from kernel.database import create_engine, session_factory
from kernel.models import Device, IncidentKind
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import act_as_member, local, make_street, record
from tests.databases import migrate_fresh
from tests.factories import acting_as


def welfare_then_sos(settings: Settings, tmp_path: Path) -> None:
    """The street in the settings' database: the elder's welfare check opened at 13:00, their SOS
    at 14:00 (not joined: a welfare check is a matter of its own), an unbound terminal's SOS."""
    migrate_fresh(settings.effective_database_url)

    async def run() -> None:
        engine = create_engine(settings.effective_database_url)
        sessions = session_factory(engine)
        street = await make_street(sessions, settings, tmp_path)
        async with sessions() as session, session.begin():
            elder = await session.scalar(
                select(Device.elder_id).where(Device.id == street.terminal)
            )
            await raise_incident(
                session, IncidentKind.WELFARE, settings, local(settings, 13), elder_id=elder,
                device_id=None, reason="no_door_activity",
            )  # fmt: skip
        await record(sessions, street.terminal, "sos", button="main")
        await record(sessions, street.unbound, "sos", button="main")
        await process_pending(sessions, settings, lambda: local(settings, 14))
        await engine.dispose()

    asyncio.run(run())


def by_kind(client: TestClient) -> dict[str, dict[str, Any]]:
    found = {
        i["kind"] if i["elder_id"] else "unbound": i for i in client.get("/api/incidents").json()
    }
    assert set(found) == {"welfare", "sos", "unbound"}
    return found


def step_of(incident: dict[str, Any], action: str) -> dict[str, Any]:
    """The incident's one step of this kind (the family's SMS steps come in their own time)."""
    (step,) = [e for e in incident["timeline"] if e["action"] == action]
    return step


def audited(settings: Settings, *actions: str) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        marks = ",".join("?" * len(actions))
        query = f"SELECT actor, action, subject_id, detail FROM audit_log WHERE action IN ({marks})"
        return db.execute(query + " ORDER BY id", actions).fetchall()


def test_an_operator_merges_the_welfare_check_into_the_elders_sos(
    settings: Settings, tmp_path: Path
) -> None:
    welfare_then_sos(settings, tmp_path)
    app = acting_as(create_app(settings, mqtt=False))
    with TestClient(app) as client:
        operator = act_as_member(settings, app, username="op1")
        me = f"staff:{operator.staff_id}"
        found = by_kind(client)
        welfare, sos = found["welfare"], found["sos"]
        assert welfare["assigned_staff_id"] not in (None, sos["assigned_staff_id"])
        answer = client.post(
            f"/api/incidents/{welfare['id']}/merge", json={"into": sos["id"], "note": "同一件事"}
        )
        assert answer.status_code == 200, answer.text
        case = answer.json()
        assert (case["id"], case["status"], case["priority"]) == (sos["id"], "assigned", 1)
        assert [
            (t["relation"], t["incident_id"], t["kind"], t["status"]) for t in case["linked"]
        ] == [("merged_in", welfare["id"], "welfare", "closed")]
        step = step_of(case, "merged_in")
        assert (step["action"], step["actor"], step["detail"]) == (
            "merged_in", me, {"merged": welfare["id"], "kind": "welfare", "note": "同一件事"},
        )  # fmt: skip

        merged = client.get(f"/api/incidents/{welfare['id']}").json()
        assert (merged["status"], merged["outcome"], merged["merged_into_id"]) == (
            "closed", "merged", sos["id"],
        )  # fmt: skip
        step = step_of(merged, "merged_into")
        assert (step["action"], step["detail"]) == (
            "merged_into",
            {"into": sos["id"], "released": welfare["assigned_staff_id"], "note": "同一件事"},
        )
        assert [t["relation"] for t in merged["linked"]] == ["merged_into"]
        # Released: off the queue and the worker's tasks.
        assert welfare["id"] not in {i["id"] for i in client.get("/api/incidents").json()}
    assert [(a, action, subject) for a, action, subject, _ in audited(
        settings, "incident.merged", "incident.merged_in"
    )] == [(me, "incident.merged", str(welfare["id"])), (me, "incident.merged_in", str(sos["id"]))]  # fmt: skip


def test_the_person_already_answering_keeps_the_merged_case(
    settings: Settings, tmp_path: Path
) -> None:
    """Merged into a case nobody has taken, an incident someone is already on takes them along:
    a merge never takes an emergency from the person answering it."""
    welfare_then_sos(settings, tmp_path)
    app = acting_as(create_app(settings, mqtt=False))
    with TestClient(app) as client:
        found = by_kind(client)
        welfare, sos = found["welfare"], found["sos"]
        act_as_member(settings, app, id=welfare["assigned_staff_id"])
        client.post(f"/api/incidents/{welfare['id']}/acknowledge", json={}).raise_for_status()
        client.post(f"/api/incidents/{welfare['id']}/status", json={"status": "en_route"})
        act_as_member(settings, app, username="op1")
        answer = client.post(f"/api/incidents/{welfare['id']}/merge", json={"into": sos["id"]})
        assert answer.status_code == 200, answer.text
        case = answer.json()
        assert (case["assigned_staff_id"], case["status"], case["ack_due_at"]) == (
            welfare["assigned_staff_id"], "en_route", None,
        )  # fmt: skip
        assert step_of(case, "merged_in")["detail"] == {
            "merged": welfare["id"], "kind": "welfare", "note": "",
            "released": sos["assigned_staff_id"], "staff_id": welfare["assigned_staff_id"],
        }  # fmt: skip


def test_merging_what_makes_no_sense_is_refused(settings: Settings, tmp_path: Path) -> None:
    welfare_then_sos(settings, tmp_path)
    app = acting_as(create_app(settings, mqtt=False))
    with TestClient(app) as client:
        found = by_kind(client)
        welfare, sos, unbound = found["welfare"], found["sos"], found["unbound"]

        def refused(incident: int, into: int) -> tuple[int, str]:
            answer = client.post(f"/api/incidents/{incident}/merge", json={"into": into})
            return answer.status_code, answer.json()["code"]

        act_as_member(settings, app, id=sos["assigned_staff_id"])  # a 禾花 worker
        assert refused(welfare["id"], sos["id"]) == (403, "forbidden")
        act_as_member(settings, app, username="op1")
        assert refused(unbound["id"], sos["id"]) == (409, "not_the_same_elder")
        assert refused(sos["id"], sos["id"]) == (422, "merge_into_itself")
        assert refused(sos["id"], 999_999) == (404, "not_found")
        assert client.post(
            f"/api/incidents/{welfare['id']}/merge", json={"into": sos["id"]}
        ).is_success
        assert refused(sos["id"], welfare["id"]) == (409, "incident_not_open")
        assert client.get(f"/api/incidents/{sos['id']}").json()["status"] == "assigned"


def test_an_operator_links_two_matters_on_both_timelines(
    settings: Settings, tmp_path: Path
) -> None:
    welfare_then_sos(settings, tmp_path)
    app = acting_as(create_app(settings, mqtt=False))
    with TestClient(app) as client:
        operator = act_as_member(settings, app, username="op1")
        found = by_kind(client)
        sos, unbound = found["sos"], found["unbound"]
        answer = client.post(
            f"/api/incidents/{unbound['id']}/links",
            json={"incident_id": sos["id"], "note": "同一楼道的邻居"},
        )
        assert answer.status_code == 200, answer.text
        assert [(t["relation"], t["incident_id"]) for t in answer.json()["linked"]] == [
            ("linked", sos["id"])
        ]
        other = client.get(f"/api/incidents/{sos['id']}").json()
        assert [(t["relation"], t["incident_id"], t["kind"]) for t in other["linked"]] == [
            ("linked", unbound["id"], "sos")
        ]
        assert step_of(other, "linked")["detail"] == {
            "linked": unbound["id"], "kind": "sos", "note": "同一楼道的邻居",
        }  # fmt: skip
        assert (other["status"], other["merged_into_id"]) == ("assigned", None)  # nothing else
        again = client.post(
            f"/api/incidents/{sos['id']}/links", json={"incident_id": unbound["id"]}
        )
        assert (again.status_code, again.json()["code"]) == (409, "already_linked")
    me = f"staff:{operator.staff_id}"
    assert [(a, subject) for a, _, subject, _ in audited(settings, "incident.linked")] == [
        (me, str(unbound["id"])), (me, str(sos["id"])),
    ]  # fmt: skip
