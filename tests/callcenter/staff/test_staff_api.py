"""The staff directory: who works where, who is on duty now, how many open incidents they hold."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from eldercare.app import create_app
from kernel.database import create_engine, session_factory
from kernel.models import Incident, IncidentKind, IncidentStatus, Shift, StaffMember
from kernel.settings import Settings
from tests.callcenter.elders.conftest import prepare_street
from tests.factories import acting_as, create_row


def prepare(settings: Settings, tmp_path: Path) -> None:
    """The demo staff; the admin (never on the default roster) on duty now, holding two incidents."""
    prepare_street(settings, tmp_path, [create_row()])

    async def run() -> None:
        engine = create_engine(settings.effective_database_url)
        now = dt.datetime.now(dt.UTC)
        try:
            async with session_factory(engine)() as session, session.begin():
                admin = await session.scalar(
                    select(StaffMember.id).where(StaffMember.username == "admin")
                )
                await session.execute(
                    insert(Shift).values(staff_id=admin, centre_code="PH00",
                                         starts_at=now - dt.timedelta(hours=1),
                                         ends_at=now + dt.timedelta(hours=1))
                )  # fmt: skip
                await session.execute(
                    insert(Incident),
                    [
                        {"kind": IncidentKind.SOS, "priority": 1, "status": status,
                         "centre_code": "PH00", "routing": "test", "assigned_staff_id": admin}
                        for status in (IncidentStatus.ASSIGNED, IncidentStatus.ON_SITE,
                                       IncidentStatus.RESOLVED)
                    ],
                )  # fmt: skip
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    prepare(settings, tmp_path)
    with TestClient(acting_as(create_app(settings, mqtt=False))) as client:
        yield client


def test_staff_are_listed_with_duty_and_load(client: TestClient) -> None:
    everyone = client.get("/api/staff").json()
    (admin,) = [m for m in everyone if m["role"] == "admin"]
    assert (admin["centre_code"], admin["active"]) == ("PH00", True)
    assert (admin["on_duty"], admin["open_incidents"]) == (True, 2)  # the resolved one is not held
    assert set(admin) == {
        "id",
        "name",
        "role",
        "centre_code",
        "phone",
        "active",
        "on_duty",
        "open_incidents",
    }
    assert all(m["open_incidents"] == 0 for m in everyone if m["id"] != admin["id"])


def test_staff_are_filtered_by_centre_and_role(client: TestClient) -> None:
    hehua = client.get("/api/staff", params={"centre": "PH03"}).json()
    assert len(hehua) == 4 and {m["role"] for m in hehua} == {"community_worker"}
    supervisors = client.get("/api/staff", params={"role": "supervisor"}).json()
    assert len(supervisors) == 2 and {m["centre_code"] for m in supervisors} == {"PH00"}
    assert client.get("/api/staff", params={"role": "chef"}).status_code == 422
