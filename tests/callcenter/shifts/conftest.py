"""The street's centres, the demo staff signing in with a password, two elders with their devices,
on SQLite and on PostgreSQL; a roster and incidents made to measure for each test."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.register import columns
from eldercare.app import create_app
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.database import create_engine, session_factory
from kernel.models import AuditEntry, Incident, IncidentKind, IncidentStatus, Shift, StaffMember
from kernel.settings import Settings
from tests.factories import AS_OF, create_passwords, create_register_csv, create_row

T = TypeVar("T")


@dataclass
class Floor:
    """The street in one database: staff ids by username, the elders' terminals and monitors."""

    settings: Settings
    staff: dict[str, int]
    hehua_devices: tuple[str, str]  # 王秀英 of 禾花 (PH03): terminal, health monitor
    baini_devices: tuple[str, str]  # 李建国 of 白坭坑 (PH02)

    def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Do this in a unit of work of its own on the street's database."""

        async def go() -> T:
            engine = create_engine(self.settings.effective_database_url)
            try:
                async with session_factory(engine)() as session, session.begin():
                    return await work(session)
            finally:
                await engine.dispose()

        return asyncio.run(go())

    def add(self, model: type, **values: Any) -> int:
        """Insert one row; its id."""

        async def work(session: AsyncSession) -> int:
            result = await session.execute(insert(model).values(**values))
            return int(result.inserted_primary_key[0])  # type: ignore[attr-defined]

        return self.run(work)

    def roster(self, *shifts: tuple[str, str, dt.timedelta, dt.timedelta]) -> None:
        """Only these shifts on the roster: (username, centre, start, end), from now."""
        now = dt.datetime.now(dt.UTC)

        async def work(session: AsyncSession) -> None:
            await session.execute(delete(Shift))
            for username, centre, starts, ends in shifts:
                await session.execute(
                    insert(Shift).values(staff_id=self.staff[username], centre_code=centre,
                                         starts_at=now + starts, ends_at=now + ends)
                )  # fmt: skip

        self.run(work)

    def incident(
        self, centre: str, *, ago: dt.timedelta, priority: int = 1, holder: str | None = None,
        acknowledged_after: dt.timedelta | None = None,
        status: IncidentStatus = IncidentStatus.ASSIGNED, now: dt.datetime | None = None,
    ) -> int:  # fmt: skip
        """An incident of that centre, opened that long before now, held by that person."""
        opened = (now or dt.datetime.now(dt.UTC)) - ago
        kind = IncidentKind.TECHNICAL if priority == 4 else IncidentKind.SOS
        return self.add(
            Incident, kind=kind, priority=priority, status=status, centre_code=centre,
            routing="test", opened_at=opened,
            assigned_staff_id=self.staff[holder] if holder else None,
            acknowledged_at=opened + acknowledged_after if acknowledged_after else None,
        )  # fmt: skip

    def audit(self, action: str) -> list[tuple[str, str, dict[str, Any]]]:
        """The audit log's entries of this action: actor, subject id, detail."""

        async def work(session: AsyncSession) -> list[tuple[str, str, dict[str, Any]]]:
            rows = await session.execute(
                select(AuditEntry.actor, AuditEntry.subject_id, AuditEntry.detail)
                .where(AuditEntry.action == action)
                .order_by(AuditEntry.id)
            )
            return [
                (actor, subject, detail if isinstance(detail, dict) else json.loads(detail))
                for actor, subject, detail in rows.all()
            ]

        return self.run(work)

    def client(self) -> TestClient:
        """A client of the API on the street (use it in a with block; `sign_in` as someone)."""
        return TestClient(create_app(self.settings, mqtt=False))


async def _prepare(settings: Settings, tmp_path: Path) -> Floor:
    engine = create_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    try:
        hehua = create_row(**{columns.NAME: "王秀英"})
        baini = create_row(**{
            columns.NAME: "李建国", columns.SEX: "男", columns.COMMUNITY: "白坭坑社区",
            columns.ADDRESS: "深圳市龙岗区平湖街道白坭坑社区白坭坑路2号",
            columns.LONGITUDE: "114.113900", columns.LATITUDE: "22.658100",
        })  # fmt: skip
        await import_register_file(
            sessions, create_register_csv(tmp_path / "r.csv", [hehua, baini]), as_of=AS_OF,
            actor="test",
        )  # fmt: skip
        await ensure_staff_and_roster(sessions, settings)
        await create_passwords(sessions)
        async with sessions() as session:
            staff = {m.username: m.id for m in await session.scalars(select(StaffMember))}
    finally:
        await engine.dispose()
    return Floor(
        settings=settings,
        staff=staff,
        hehua_devices=(hehua[columns.SOS_TERMINAL], hehua[columns.HEALTH_MONITOR]),
        baini_devices=(baini[columns.SOS_TERMINAL], baini[columns.HEALTH_MONITOR]),
    )


@pytest.fixture
def floor(migrated_url: str, settings: Settings, tmp_path: Path) -> Iterator[Floor]:
    """The street on SQLite and on PostgreSQL."""
    on_database = settings.model_copy(update={"database_url": migrated_url})
    yield asyncio.run(_prepare(on_database, tmp_path))
