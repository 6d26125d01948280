"""Whole jobs the command line runs: import a register file, seed the demo street."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.centres import repository as centres_repository
from callcenter.centres.service import centre_facts
from callcenter.register.reader import read_register
from callcenter.register.schemas import ImportReport
from callcenter.register.service import ProgressCallback, import_register
from callcenter.register.synthetic import write_synthetic_register
from callcenter.rosters import repository as rosters_repository
from callcenter.rosters.service import default_shifts, with_demo_gap
from callcenter.staff import repository as staff_repository
from callcenter.staff.service import demo_staff
from kernel.models import Elder
from kernel.settings import Settings

ROSTER_DAYS_AHEAD = 14
DEMO_REGISTER_SEED = 20261123


def file_sha256(path: Path) -> str:
    """The file's sha256, to tell one export from another in the import history."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def import_register_file(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    as_of: dt.date,
    actor: str,
    encoding: str = "utf-8",
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Read and import one register file in one transaction (rolled back for a dry run)."""
    register = read_register(path, encoding)
    async with sessions() as session:
        report = await import_register(
            session,
            register,
            file_name=path.name,
            sha256=file_sha256(path),
            as_of=as_of,
            actor=actor,
            dry_run=dry_run,
            progress=progress,
        )
        if dry_run:
            await session.rollback()
        else:
            await session.commit()
    return report


async def elder_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    """How many elders are registered."""
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(Elder)) or 0


async def ensure_staff_and_roster(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Centres, the demo staff and the default roster from yesterday to two weeks ahead."""
    today = dt.datetime.now(settings.tz).date()
    days = [today + dt.timedelta(days=offset) for offset in range(-1, ROSTER_DAYS_AHEAD)]
    async with sessions() as session, session.begin():
        await centres_repository.upsert_centres(session, centre_facts())
        await staff_repository.add_missing_staff(session, demo_staff(centre_facts()))
        staff = await staff_repository.list_staff(session)
        await rosters_repository.add_shifts_not_planned(
            session, with_demo_gap(default_shifts(staff, days, settings.tz))
        )


async def seed_demo(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    count: int,
    seed: int = DEMO_REGISTER_SEED,
    progress: ProgressCallback | None = None,
    on_written: Callable[[Path], None] | None = None,
) -> ImportReport:
    """Write the synthetic register (same format as the street office's) and import it."""
    today = dt.datetime.now(settings.tz).date()
    path = settings.data_dir / f"synthetic_register_{count}_{seed}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_synthetic_register(path, count, seed=seed, as_of=today)
    if on_written is not None:
        on_written(path)
    await ensure_staff_and_roster(sessions, settings)
    return await import_register_file(sessions, path, as_of=today, actor="seed", progress=progress)
