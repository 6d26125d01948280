"""Two elders of 禾花 (PH03) with their devices, the demo staff and roster, on SQLite and
PostgreSQL; the one who leaves is 王秀英, 李建国 stays. Helpers to record events as the gateway
does and to record a death."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from callcenter.privacy import repository, service
from callcenter.privacy.schemas import LifeStatusRequest
from callcenter.register import columns
from eldercare.app import create_app
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.database import create_engine, session_factory
from kernel.models import DeviceEvent, Elder, utcnow
from kernel.models.elders import LifeStatus
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import Sessions
from tests.factories import AS_OF, acting_as, create_register_csv, create_row

T = TypeVar("T")
_messages = itertools.count(1)


@dataclass(frozen=True)
class Street:
    """Ids: 王秀英 (leaves) with terminal, monitor and door sensor; 李建国 (stays) with his."""

    leaving: int
    staying: int
    terminal: str
    monitor: str
    door: str
    national_id: str
    staying_terminal: str


def _rows() -> tuple[dict[str, str], dict[str, str]]:
    leaving = create_row(
        **{
            columns.NAME: "王秀英",
            columns.OWN_PHONE: "13800004321",
            columns.CONTACT1_PHONE: "13900005555",
            columns.DOOR_SENSOR: "MC0000000777",
            columns.REMARKS: "右耳听力差",
        }
    )
    staying = create_row(**{columns.NAME: "李建国", columns.SEX: "男"})
    return leaving, staying


async def make_street(sessions: Sessions, settings: Settings, tmp_path: Path) -> Street:
    leaving, staying = _rows()
    await import_register_file(
        sessions,
        create_register_csv(tmp_path / "r.csv", [leaving, staying]),
        as_of=AS_OF,
        actor="test",
    )
    await ensure_staff_and_roster(sessions, settings)
    async with sessions() as session:
        ids = dict((await session.execute(select(Elder.name, Elder.id))).all())
    return Street(
        leaving=ids["王秀英"],
        staying=ids["李建国"],
        terminal=leaving[columns.SOS_TERMINAL],
        monitor=leaving[columns.HEALTH_MONITOR],
        door=leaving[columns.DOOR_SENSOR],
        national_id=leaving[columns.NATIONAL_ID],
        staying_terminal=staying[columns.SOS_TERMINAL],
    )


@pytest.fixture
async def street(sessions: Sessions, settings: Settings, tmp_path: Path) -> Street:
    return await make_street(sessions, settings, tmp_path)


async def record(
    sessions: Sessions,
    device: str,
    elder_id: int | None,
    type_: str,
    at: dt.datetime | None = None,
    **payload: object,
) -> int:
    """A device event as the gateway records it, with the binding it knew (its copy of the
    registry may be a minute old: the elder's id, though the device was unbound since)."""
    moment = at or utcnow()
    async with sessions() as session, session.begin():
        result = await session.execute(
            insert(DeviceEvent)
            .values(
                device_id=device, message_id=f"p{next(_messages)}", type=type_, elder_id=elder_id,
                device_ts=moment, received_at=moment, transport="mqtt",
                payload={"type": type_, **payload},
            )
            .returning(DeviceEvent.id)
        )  # fmt: skip
        return int(result.scalar_one())


async def mark_departed(
    sessions: Sessions,
    elder_id: int,
    status: LifeStatus = LifeStatus.DECEASED,
    on: dt.date | None = None,
    *,
    now: dt.datetime | None = None,
) -> service.LifeStatusChange:
    """Record a death (or a move) as a supervisor does, through the service."""
    moment = now or utcnow()
    async with sessions() as session, session.begin():
        elder = await repository.elder_for_update(session, elder_id)
        assert elder is not None
        return await service.record_life_status(
            session,
            elder,
            LifeStatusRequest(
                status=status,
                on=None if status is LifeStatus.ACTIVE else on or moment.date(),
            ),
            actor="staff:2",
            now=moment,
            today=moment.date(),
        )


def on_database(settings: Settings, work: Callable[[Sessions], Awaitable[T]]) -> T:
    """Run `work` with sessions on the settings' database (for tests that drive the API)."""

    async def run() -> T:
        engine = create_engine(settings.effective_database_url)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


@dataclass
class Api:
    """The API on the street, and the settings of its database."""

    client: TestClient
    settings: Settings
    street: Street

    def rows(self, work: Callable[[Sessions], Awaitable[T]]) -> T:
        return on_database(self.settings, work)


@pytest.fixture
def api(migrated_url: str, settings: Settings, tmp_path: Path) -> Iterator[Api]:
    """The street on SQLite and PostgreSQL, and a client acting as the street's admin."""
    settings = settings.model_copy(update={"database_url": migrated_url})
    street = on_database(settings, lambda s: make_street(s, settings, tmp_path))
    with TestClient(acting_as(create_app(settings, mqtt=False))) as client:
        yield Api(client, settings, street)


def fetch_all(model: Any, *where: Any) -> Callable[[Sessions], Awaitable[list[Any]]]:
    """A work function: every row of a model matching `where`, by id."""

    async def work(sessions: Sessions) -> list[Any]:
        async with sessions() as session:
            query = select(model).where(*where)
            return list((await session.scalars(query)).all())

    return work
