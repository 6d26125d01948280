"""Three elders of two communities, the demo staff and roster, and an API client on them."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.accounts.endpoints import current_actor
from callcenter.accounts.schemas import Actor
from callcenter.register import columns
from eldercare.app import create_app
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.database import create_engine, session_factory
from kernel.models import StaffRole
from kernel.settings import Settings
from tests.databases import migrate_fresh
from tests.factories import AS_OF, acting_as, create_national_id, create_register_csv, create_row

BIRTH = dt.date(1950, 3, 7)


def national_id_ending_in_x() -> str:
    """A valid ID number whose check character is X (about one number in eleven)."""
    while not (number := create_national_id(BIRTH, male=False)).endswith("X"):
        pass
    return number


@dataclass(frozen=True)
class Elders:
    """The register rows imported: 王秀英 and 王建华 of 禾花 (PH03), 李建国 of 白坭坑 (PH02)."""

    xiuying: dict[str, str]
    jianhua: dict[str, str]
    jianguo: dict[str, str]


def elder_rows() -> Elders:
    return Elders(
        xiuying=create_row(
            **{
                columns.NAME: "王秀英",
                columns.NATIONAL_ID: national_id_ending_in_x(),
                columns.OWN_PHONE: "13800004321",
                columns.CONTACT1_PHONE: "13900005555",
            }
        ),
        jianhua=create_row(
            **{
                columns.NAME: "王建华",
                columns.SEX: "男",
                columns.NATIONAL_ID: create_national_id(BIRTH, male=True),
                columns.LIVING: "与子女同住",
                columns.CONDITIONS: "高血压",
                columns.CONTACT1_PHONE: "13900006666",
            }
        ),
        jianguo=create_row(
            **{
                columns.NAME: "李建国",
                columns.SEX: "男",
                columns.NATIONAL_ID: create_national_id(BIRTH, male=True),
                columns.COMMUNITY: "白坭坑社区",
                columns.ADDRESS: "深圳市龙岗区平湖街道白坭坑社区白坭坑路2号",
                columns.LONGITUDE: "114.113900",
                columns.LATITUDE: "22.658100",
                columns.LIVING: "空巢",
                columns.CONDITIONS: "阿尔茨海默症",
                columns.CONTACT1_PHONE: "13700007777",
                columns.CONTACT2_NAME: "李芳",
                columns.CONTACT2_RELATION: "女儿",
                columns.CONTACT2_PHONE: "13600008888",
            }
        ),
    )


def prepare_street(settings: Settings, tmp_path: Path, rows: list[dict[str, str]]) -> None:
    """Migrate the settings' database, import these rows, plan the demo staff and roster."""
    migrate_fresh(settings.effective_database_url)

    async def run() -> None:
        engine = create_engine(settings.effective_database_url)
        sessions = session_factory(engine)
        try:
            report = await import_register_file(
                sessions, create_register_csv(tmp_path / "r.csv", rows), as_of=AS_OF, actor="test"
            )
            assert report.summary.created == len(rows), report.issues
            await ensure_staff_and_roster(sessions, settings)
        finally:
            await engine.dispose()

    asyncio.run(run())


def act_as(
    client: TestClient, role: StaffRole, centre_code: str = "PH00", staff_id: int = 1
) -> None:
    """From now on the client's requests come from this person (instead of the stub's admin)."""
    actor = Actor(staff_id=staff_id, role=role, centre_code=centre_code)
    client.app.dependency_overrides[current_actor] = lambda: actor  # type: ignore[attr-defined]


def database_rows(settings: Settings, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of a query on the settings' SQLite database."""
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        return db.execute(sql, args).fetchall()


@pytest.fixture
def elders() -> Elders:
    return elder_rows()


@pytest.fixture
def client(settings: Settings, tmp_path: Path, elders: Elders) -> Iterator[TestClient]:
    """The API on a street of the three elders."""
    prepare_street(settings, tmp_path, [elders.xiuying, elders.jianhua, elders.jianguo])
    with TestClient(acting_as(create_app(settings, mqtt=False))) as client:
        yield client


def elder_id(client: TestClient, name: str) -> int:
    (found,) = client.get("/api/elders", params={"q": name}).json()["items"]
    return int(found["id"])
