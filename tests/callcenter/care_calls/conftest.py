"""A street of elders at each risk the care-call rules know, the demo staff, roster and
passwords; today's list made at a chosen moment; the calls and tries read back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.care_calls.service import DayPlan
from callcenter.care_calls.tasks import make_todays_list
from callcenter.register import columns
from eldercare.app import create_app
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.models import CareCall, CareCallStatus, Elder, StaffMember
from kernel.settings import Settings
from tests.conftest import free_port
from tests.factories import (
    AS_OF,
    create_national_id,
    create_passwords,
    create_register_csv,
    create_row,
)

Sessions = async_sessionmaker[AsyncSession]

# Each elder of the street and what makes them owed a call (or not).
XIUYING = "王秀英"  # 禾花 (PH03), lives alone, 76: weekly
GUILAN = "张桂兰"  # 禾花, with her children, 阿尔茨海默症: daily
JIANGUO = "李建国"  # 白坭坑 (PH02), lives alone, 86: weekly, and on a weather warning's day
GUOQIANG = "陈国强"  # 禾花, with his wife, no condition: only after a hospital stay or an incident
BAINIKENG = {
    columns.COMMUNITY: "白坭坑社区",
    columns.ADDRESS: "深圳市龙岗区平湖街道白坭坑社区白坭坑路2号",
    columns.LONGITUDE: "114.113900",
    columns.LATITUDE: "22.658100",
}


def elder_row(
    name: str, birth: dt.date, living: str, conditions: str, **more: str
) -> dict[str, str]:
    """A register row of an elder born on `birth` (their ID number agrees)."""
    return create_row(**{
        columns.NAME: name, columns.BIRTH_DATE: birth.isoformat(), columns.LIVING: living,
        columns.NATIONAL_ID: create_national_id(birth, male=False), columns.CONDITIONS: conditions,
        **more,
    })  # fmt: skip


@dataclass
class Street:
    """Ids of the elders (by name) and staff (by username)."""

    elders: dict[str, int]
    staff: dict[str, int]


async def make_street(sessions: Sessions, settings: Settings, tmp_path: Path) -> Street:
    rows = [
        elder_row(XIUYING, dt.date(1950, 3, 7), "独居", "高血压；糖尿病",
                  **{columns.OWN_PHONE: "13800138000"}),
        elder_row(GUILAN, dt.date(1944, 6, 1), "与子女同住", "阿尔茨海默症"),
        elder_row(JIANGUO, dt.date(1940, 1, 20), "独居", "高血压", **BAINIKENG),
        elder_row(GUOQIANG, dt.date(1955, 9, 9), "空巢", ""),
    ]  # fmt: skip
    await import_register_file(
        sessions, create_register_csv(tmp_path / "r.csv", rows), as_of=AS_OF, actor="test"
    )
    await ensure_staff_and_roster(sessions, settings)
    await create_passwords(sessions)
    async with sessions() as session:
        elders = dict((await session.execute(select(Elder.name, Elder.id))).all())
        staff = {m.username: m.id for m in await session.scalars(select(StaffMember))}
    assert set(elders) == {XIUYING, GUILAN, JIANGUO, GUOQIANG}, elders
    return Street(elders, staff)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The first weekly calls all on the first day (not spread over a week), so that every
    elder living alone is owed one today whatever the day."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", mqtt_port=free_port(),
        care_calls_first_spread_days=1,
    )  # fmt: skip


@pytest.fixture
async def street(sessions: Sessions, settings: Settings, tmp_path: Path) -> Street:
    """The street, in the test's database (SQLite and PostgreSQL)."""
    return await make_street(sessions, settings, tmp_path)


def at_local(settings: Settings, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A local moment of a day, in UTC."""
    return dt.datetime.combine(day, dt.time(hour, minute), settings.tz).astimezone(dt.UTC)


def today(settings: Settings) -> dt.date:
    return dt.datetime.now(settings.tz).date()


async def make_list(sessions: Sessions, settings: Settings, now: dt.datetime) -> DayPlan:
    return await make_todays_list(sessions, settings, now)


async def calls(sessions: Sessions, status: CareCallStatus | None = None) -> list[CareCall]:
    """Every call (of one status), by id."""
    query = select(CareCall).order_by(CareCall.id)
    if status is not None:
        query = query.where(CareCall.status == status)
    async with sessions() as session:
        return list((await session.scalars(query)).all())


async def open_by_elder(sessions: Sessions, street: Street) -> dict[str, list[str]]:
    """The open calls' reasons, by the elder's name."""
    names = {elder_id: name for name, elder_id in street.elders.items()}
    return {names[c.elder_id]: c.reasons for c in await calls(sessions, CareCallStatus.DUE)}


@pytest.fixture
def client(migrated_url: str, settings: Settings, street: Street) -> Iterator[TestClient]:
    """The whole app on the street's database (its loops run: the care-call list is made when
    it starts); sign in with `sign_in(client, username)`."""
    on_database = settings.model_copy(update={"database_url": migrated_url})
    with TestClient(create_app(on_database, mqtt=False)) as test_client:
        yield test_client
