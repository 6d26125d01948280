"""Two elders, 王秀英 of 禾花 (PH03, with a terminal) and 李建国 of 白坭坑 (PH02), the demo staff,
their roster and passwords; the green key pressed; the orders, steps and notices read back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.register import columns
from eldercare.app import create_app
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.models import DeviceNotice, Elder, StaffMember, WorkOrder, WorkOrderStep
from kernel.settings import Settings
from tests.factories import AS_OF, create_passwords, create_register_csv, create_row

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class Street:
    """Ids of what the tests act on."""

    ph03_elder: int
    ph02_elder: int
    terminal: str  # 王秀英's
    staff: dict[str, int]  # by username


async def make_street(sessions: Sessions, settings: Settings, tmp_path: Path) -> Street:
    """Import the two elders, plan the staff and roster, give everyone the test password."""
    xiuying = create_row(**{columns.NAME: "王秀英"})  # at the 禾花 centre's doorstep
    jianguo = create_row(**{
        columns.NAME: "李建国", columns.COMMUNITY: "白坭坑社区",
        columns.ADDRESS: "深圳市龙岗区平湖街道白坭坑社区白坭坑路2号",
        columns.LONGITUDE: "114.113900", columns.LATITUDE: "22.658100",
    })  # fmt: skip
    await import_register_file(
        sessions,
        create_register_csv(tmp_path / "r.csv", [xiuying, jianguo]),
        as_of=AS_OF,
        actor="test",
    )
    await ensure_staff_and_roster(sessions, settings)
    await create_passwords(sessions)
    async with sessions() as session:
        elders = dict((await session.execute(select(Elder.name, Elder.id))).all())
        staff = {m.username: m.id for m in await session.scalars(select(StaffMember))}
    return Street(elders["王秀英"], elders["李建国"], xiuying[columns.SOS_TERMINAL], staff)


@pytest.fixture
async def street(sessions: Sessions, settings: Settings, tmp_path: Path) -> Street:
    """The street, in the test's database (SQLite and PostgreSQL)."""
    return await make_street(sessions, settings, tmp_path)


def local(settings: Settings, hour: int, minute: int = 0) -> dt.datetime:
    """Tomorrow at this local time (the centres open 08:00-20:00)."""
    today = dt.datetime.now(settings.tz).date()
    return dt.datetime.combine(
        today + dt.timedelta(days=1), dt.time(hour, minute), settings.tz
    ).astimezone(dt.UTC)


async def orders(sessions: Sessions) -> list[WorkOrder]:
    async with sessions() as session:
        return list((await session.scalars(select(WorkOrder).order_by(WorkOrder.id))).all())


async def steps(sessions: Sessions, order_id: int) -> list[WorkOrderStep]:
    async with sessions() as session:
        query = (
            select(WorkOrderStep)
            .where(WorkOrderStep.work_order_id == order_id)
            .order_by(WorkOrderStep.id)
        )
        return list((await session.scalars(query)).all())


async def notices(sessions: Sessions) -> list[DeviceNotice]:
    async with sessions() as session:
        return list((await session.scalars(select(DeviceNotice).order_by(DeviceNotice.id))).all())


@pytest.fixture
def client(migrated_url: str, settings: Settings, street: Street) -> Iterator[TestClient]:
    """The whole app on the street's database; sign in with `sign_in(client, username)`."""
    on_database = settings.model_copy(update={"database_url": migrated_url})
    with TestClient(create_app(on_database, mqtt=False)) as test_client:
        yield test_client
