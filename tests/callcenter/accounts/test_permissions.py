"""The permission table, route by route: each role on each route that changes state or reads
personal data gets what callcenter/accounts/permissions.py says (on SQLite and PostgreSQL), and a
community worker's reach outside their centre is exactly the incident they hold."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.accounts.endpoints import current_actor
from callcenter.accounts.schemas import Actor
from callcenter.register import columns
from eldercare.app import create_app
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.database import create_engine, session_factory
from kernel.models import (
    AwayPeriod,
    Elder,
    EmergencyContact,
    Incident,
    IncidentKind,
    IncidentStatus,
    Shift,
    StaffMember,
    StaffRole,
    VitalThreshold,
)
from kernel.settings import Settings
from tests.factories import AS_OF, create_register_csv, create_row

Sessions = async_sessionmaker[AsyncSession]
_requests = itertools.count(1)


@dataclass
class Street:
    """Ids of what the routes act on: 王秀英 of 禾花 (PH03) and 李建国 of 白坭坑 (PH02), staff."""

    ph03_elder: int
    ph02_elder: int
    ph03_contact: int
    ph02_contact: int
    staff: dict[str, int]  # op1, sup1, admin, holder (PH03), worker (PH03), ph02 (a PH02 worker)


async def _make_street(sessions: Sessions, settings: Settings, tmp_path: Path) -> Street:
    rows = [
        create_row(**{columns.NAME: "王秀英"}),
        create_row(
            **{
                columns.NAME: "李建国",
                columns.COMMUNITY: "白坭坑社区",
                columns.ADDRESS: "深圳市龙岗区平湖街道白坭坑社区白坭坑路2号",
                columns.LONGITUDE: "114.113900",
                columns.LATITUDE: "22.658100",
            }
        ),
    ]
    await import_register_file(
        sessions, create_register_csv(tmp_path / "r.csv", rows), as_of=AS_OF, actor="test"
    )
    await ensure_staff_and_roster(sessions, settings)
    async with sessions() as session:
        elders = dict((await session.execute(select(Elder.name, Elder.id))).all())
        contacts = dict(
            (await session.execute(select(EmergencyContact.elder_id, EmergencyContact.id))).all()
        )
        staff = {m.username: m.id for m in await session.scalars(select(StaffMember))}
    xiuying, jianguo = elders["王秀英"], elders["李建国"]
    xiuying_contact, jianguo_contact = contacts[xiuying], contacts[jianguo]
    return Street(
        ph03_elder=xiuying,
        ph02_elder=jianguo,
        ph03_contact=xiuying_contact,
        ph02_contact=jianguo_contact,
        staff={
            "op1": staff["op1"],
            "sup1": staff["sup1"],
            "admin": staff["admin"],
            "holder": staff["ph03-w1"],
            "worker": staff["ph03-w2"],
            "ph02": staff["ph02-w1"],
        },
    )


async def _add(sessions: Sessions, model: type, **values: Any) -> int:
    async with sessions() as session, session.begin():
        return int((await session.execute(insert(model).values(**values))).inserted_primary_key[0])  # type: ignore[index]


@dataclass
class World:
    """The street in one database, and a way to add what a route needs."""

    street: Street
    settings: Settings

    def add(self, model: type, **values: Any) -> int:
        async def run() -> int:
            engine = create_engine(self.settings.effective_database_url)
            try:
                return await _add(session_factory(engine), model, **values)
            finally:
                await engine.dispose()

        return asyncio.run(run())

    def incident(self, *, elder: str = "ph03", holder: str = "holder", **values: Any) -> int:
        """An open SOS of that elder, held by that staff member, at the holder's centre."""
        now = dt.datetime.now(dt.UTC)
        centre = "PH02" if holder == "ph02" or elder == "ph02" else "PH03"
        return self.add(
            Incident, kind=IncidentKind.SOS, priority=1, routing="test", opened_at=now,
            elder_id=getattr(self.street, f"{elder}_elder"), centre_code=centre,
            assigned_staff_id=self.street.staff[holder],
            **{"status": IncidentStatus.ASSIGNED, "ack_due_at": now + dt.timedelta(minutes=1), **values},
        )  # fmt: skip


@pytest.fixture
def world(migrated_url: str, settings: Settings, tmp_path: Path) -> World:
    """The street on SQLite and on PostgreSQL."""
    on_database = settings.model_copy(update={"database_url": migrated_url})

    async def run() -> Street:
        engine = create_engine(migrated_url)
        try:
            return await _make_street(session_factory(engine), on_database, tmp_path)
        finally:
            await engine.dispose()

    return World(asyncio.run(run()), on_database)


Request = tuple[str, str, dict[str, Any] | None]


def _sms(world: World, incident: int, contact: str = "ph03") -> dict[str, Any]:
    contact_id = getattr(world.street, f"{contact}_contact")
    return {"incident_id": incident, "contact_id": contact_id, "text": "我们已上门",
            "request_id": f"permissions-{next(_requests)}"}  # fmt: skip


def _future(days: int, hour: int) -> str:
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), dt.UTC).isoformat()


def _away(world: World) -> int:
    """An away period of the PH03 elder that began now."""
    return world.add(
        AwayPeriod, elder_id=world.street.ph03_elder, starts_at=dt.datetime.now(dt.UTC),
        reason="住院", created_by="test",
    )  # fmt: skip


def _threshold(world: World) -> str:
    """The PH03 elder's own SpO2 bound; returns the vital."""
    world.add(
        VitalThreshold, elder_id=world.street.ph03_elder, vital="spo2", warn_low=88,
        reason="COPD", set_by="test", set_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    return "spo2"


def _shift(world: World) -> int:
    """A shift of the PH03 worker well beyond the default roster."""
    return world.add(
        Shift, staff_id=world.street.staff["worker"], centre_code="PH03",
        starts_at=dt.datetime.fromisoformat(_future(27, 0)),
        ends_at=dt.datetime.fromisoformat(_future(27, 12)),
    )  # fmt: skip


ROUTES: dict[str, Callable[[World], Request]] = {
    "acknowledge": lambda w: ("POST", f"/api/incidents/{w.incident()}/acknowledge", {}),
    "assign": lambda w: (
        "POST",
        f"/api/incidents/{w.incident()}/assign",
        {"staff_id": w.street.staff["worker"]},
    ),
    "note": lambda w: ("POST", f"/api/incidents/{w.incident()}/notes", {"text": "到了"}),
    "status": lambda w: (
        "POST",
        f"/api/incidents/{w.incident(status=IncidentStatus.ACKNOWLEDGED, ack_due_at=None)}/status",
        {"status": "en_route"},
    ),
    "sms send": lambda w: ("POST", "/api/sms/messages", _sms(w, w.incident())),
    "sms list": lambda w: ("GET", "/api/sms/messages", None),
    "elder search": lambda w: ("GET", "/api/elders?q=王", None),
    "elder profile": lambda w: ("GET", f"/api/elders/{w.street.ph03_elder}", None),
    "elder readings": lambda w: ("GET", f"/api/elders/{w.street.ph03_elder}/vitals", None),
    "away mark": lambda w: (
        "POST",
        f"/api/elders/{w.street.ph03_elder}/away",
        {"starts_at": _future(1, 0), "reason": "住院"},
    ),
    "away end": lambda w: (
        "POST",
        f"/api/elders/{w.street.ph03_elder}/away/{_away(w)}/end",
        None,
    ),
    "threshold set": lambda w: (
        "PUT",
        f"/api/elders/{w.street.ph03_elder}/thresholds/hr",
        {"warn_high": 110, "reason": "心律失常"},
    ),
    "threshold clear": lambda w: (
        "DELETE",
        f"/api/elders/{w.street.ph03_elder}/thresholds/{_threshold(w)}",
        None,
    ),
    "shift add": lambda w: (
        "POST",
        "/api/rosters/shifts",
        {
            "staff_id": w.street.staff["worker"],
            "centre_code": "PH03",
            "starts_at": _future(25, 0),
            "ends_at": _future(25, 12),
        },
    ),
    "shift remove": lambda w: ("DELETE", f"/api/rosters/shifts/{_shift(w)}", None),
    "report": lambda w: ("GET", "/api/reports/summary", None),
    "report csv": lambda w: ("GET", "/api/reports/incidents.csv", None),
    "password set": lambda w: (
        "PUT",
        f"/api/auth/accounts/{w.street.staff['holder']}/password",
        {"password": "a-new-password-1"},
    ),
}

OK, NO = "allowed", "403"
# The permission table (docs/security.md), on a PH03 elder and PH03 incidents:
#                    operator supervisor admin community_worker (of PH03)
TABLE: dict[str, tuple[str, str, str, str]] = {
    "acknowledge":     (OK, OK, OK, OK),
    "assign":          (OK, OK, OK, OK),
    "note":            (OK, OK, OK, OK),
    "status":          (OK, OK, OK, OK),
    "sms send":        (OK, OK, OK, OK),
    "sms list":        (OK, OK, OK, OK),
    "elder search":    (OK, OK, OK, OK),
    "elder profile":   (OK, OK, OK, OK),
    "elder readings":  (OK, OK, OK, OK),
    "away mark":       (OK, OK, OK, OK),
    "away end":        (OK, OK, OK, OK),
    "threshold set":   (NO, OK, OK, NO),
    "threshold clear": (NO, OK, OK, NO),
    "shift add":       (NO, OK, OK, NO),
    "shift remove":    (NO, OK, OK, NO),
    "report":          (NO, OK, OK, NO),
    "report csv":      (NO, OK, OK, NO),
    "password set":    (NO, NO, OK, NO),
}  # fmt: skip
ROLES = {
    StaffRole.OPERATOR: ("op1", "PH00"),
    StaffRole.SUPERVISOR: ("sup1", "PH00"),
    StaffRole.ADMIN: ("admin", "PH00"),
    StaffRole.COMMUNITY_WORKER: ("worker", "PH03"),
}


def outcome(answer: Any) -> str:
    if answer.status_code < 300:
        return OK
    return str(answer.status_code) if answer.status_code != 403 else NO


def answers(
    world: World, actor: Actor, routes: dict[str, Callable[[World], Request]]
) -> dict[str, str]:
    """What each route answers this person: allowed (2xx), 403, or another status."""
    app = create_app(world.settings, mqtt=False)
    app.dependency_overrides[current_actor] = lambda: actor
    found = {}
    with TestClient(app) as client:
        for name, route in routes.items():
            method, path, body = route(world)
            answer = client.request(method, path, json=body)
            assert answer.status_code < 500, (name, answer.text)
            if answer.status_code == 403:
                assert answer.json()["code"] == "forbidden", (name, answer.text)
            found[name] = outcome(answer)
    return found


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_may_do_what_the_table_says_on_each_route(world: World, role: StaffRole) -> None:
    username, centre = ROLES[role]
    actor = Actor(staff_id=world.street.staff[username], role=role, centre_code=centre)
    column = list(ROLES).index(role)
    expected = {name: row[column] for name, row in TABLE.items()}
    assert answers(world, actor, ROUTES) == expected


def test_a_worker_acts_outside_their_centre_only_on_the_incident_they_hold(world: World) -> None:
    staff = world.street.staff
    worker = Actor(staff_id=staff["worker"], role=StaffRole.COMMUNITY_WORKER, centre_code="PH03")
    # Held: a PH02 elder's incident, handed to the PH03 worker across the community line.
    held = {"elder": "ph02", "holder": "worker"}
    routes: dict[str, Callable[[World], Request]] = {
        "another centre's incident": lambda w: (
            "POST",
            f"/api/incidents/{w.incident(elder='ph02', holder='ph02')}/acknowledge",
            {},
        ),
        "another centre's elder": lambda w: ("GET", f"/api/elders/{w.street.ph02_elder}", None),
        "held: acknowledge": lambda w: (
            "POST",
            f"/api/incidents/{w.incident(**held)}/acknowledge",
            {},
        ),
        "held: note": lambda w: (
            "POST",
            f"/api/incidents/{w.incident(**held)}/notes",
            {"text": "到了"},
        ),
        "held: sms": lambda w: ("POST", "/api/sms/messages", _sms(w, w.incident(**held), "ph02")),
        "held: the elder behind the door": lambda w: (
            "GET",
            f"/api/elders/{w.street.ph02_elder}",
            None,
        ),
        "held: readings": lambda w: ("GET", f"/api/elders/{w.street.ph02_elder}/vitals", None),
        "held: the elder's away periods": lambda w: (
            "POST",
            f"/api/elders/{w.street.ph02_elder}/away",
            {"starts_at": _future(1, 0), "reason": "住院"},
        ),
        "held: handed to a worker of the other centre": lambda w: (
            "POST",
            f"/api/incidents/{w.incident(**held)}/assign",
            {"staff_id": staff["ph02"]},
        ),
        "own centre: handed to another centre": lambda w: (
            "POST",
            f"/api/incidents/{w.incident()}/assign",
            {"staff_id": staff["ph02"]},
        ),
        "own centre: handed to a colleague": lambda w: (
            "POST",
            f"/api/incidents/{w.incident()}/assign",
            {"staff_id": staff["holder"]},
        ),
        "own centre: handed to an operator": lambda w: (
            "POST",
            f"/api/incidents/{w.incident()}/assign",
            {"staff_id": staff["op1"]},
        ),
    }
    assert answers(world, worker, routes) == {
        "another centre's incident": "404",
        "another centre's elder": "404",
        "held: acknowledge": OK,
        "held: note": OK,
        "held: sms": OK,
        "held: the elder behind the door": OK,
        "held: readings": OK,
        "held: the elder's away periods": NO,
        "held: handed to a worker of the other centre": NO,
        "own centre: handed to another centre": NO,
        "own centre: handed to a colleague": OK,
        "own centre: handed to an operator": NO,
    }


def test_an_operator_hands_an_incident_only_to_someone_who_takes_incidents(world: World) -> None:
    staff = world.street.staff
    operator = Actor(staff_id=staff["op1"], role=StaffRole.OPERATOR, centre_code="PH00")
    routes: dict[str, Callable[[World], Request]] = {
        "to a worker of another centre": lambda w: (
            "POST",
            f"/api/incidents/{w.incident()}/assign",
            {"staff_id": staff["ph02"]},
        ),
        "to a supervisor": lambda w: (
            "POST",
            f"/api/incidents/{w.incident()}/assign",
            {"staff_id": staff["sup1"]},
        ),
        "to nobody known": lambda w: (
            "POST",
            f"/api/incidents/{w.incident()}/assign",
            {"staff_id": 999_999},
        ),
    }
    assert answers(world, operator, routes) == {
        "to a worker of another centre": OK,
        "to a supervisor": OK,
        "to nobody known": "422",
    }
