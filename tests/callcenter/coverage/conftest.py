"""A street of two 禾花 elders (one at the centre's door, one a kilometre north), the demo staff,
roster and passwords, and the whole app on it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.register import columns
from eldercare.app import create_app
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.settings import Settings
from tests.factories import AS_OF, create_passwords, create_register_csv, create_row

Sessions = async_sessionmaker[AsyncSession]
# 禾花's centre is at 22.6684, 114.1302; a kilometre north is 1/111.32 of a degree further.
NEAR = {columns.NAME: "王秀英", columns.LATITUDE: "22.668400", columns.LONGITUDE: "114.130200"}
FAR = {columns.NAME: "李建国", columns.LATITUDE: "22.677383", columns.LONGITUDE: "114.130200"}


@pytest.fixture
async def street(sessions: Sessions, settings: Settings, tmp_path: Path) -> None:
    """The street, in the test's database (SQLite and PostgreSQL)."""
    await import_register_file(
        sessions,
        create_register_csv(tmp_path / "r.csv", [create_row(**NEAR), create_row(**FAR)]),
        as_of=AS_OF,
        actor="test",
    )
    await ensure_staff_and_roster(sessions, settings)
    await create_passwords(sessions)


@pytest.fixture
def client(migrated_url: str, settings: Settings, street: None) -> Iterator[TestClient]:
    """The whole app on the street's database (its loops run)."""
    on_database = settings.model_copy(update={"database_url": migrated_url})
    with TestClient(create_app(on_database, mqtt=False)) as test_client:
        yield test_client


def local(settings: Settings, day: dt.date, hour: int) -> dt.datetime:
    """A local hour of a day, in UTC."""
    return dt.datetime.combine(day, dt.time(hour), settings.tz).astimezone(dt.UTC)
