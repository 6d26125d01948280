"""Whole jobs the command line runs: import a register file, seed the demo street (its register,
and weeks of past readings for a few of its health monitors)."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

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
from devices.ids import DeviceKind
from devices.protocol import Vitals
from eldercare.simulate_cli import read_profiles
from gateway.ingest.repository import record_events
from kernel.database import JsonText, write_transactions
from kernel.models import Device, Elder
from kernel.models.elders import LifeStatus
from kernel.settings import Settings
from simulators.demo import DEMO_DEVICES, demo_cast
from simulators.histories import HISTORIES, fits, readings
from simulators.messages import DeviceProfile

ROSTER_DAYS_AHEAD = 14
DEMO_REGISTER_SEED = 20261123
# The demo's past weeks (simulators/histories.py): three elders drifting, so that the baseline
# task's first round at start-up has trend notices to open, and a dozen with ordinary readings
# beside them, so that it also has baselines that open none. A few thousand rows: seconds.
DEMO_HISTORIES = (
    "bp-creeping-up",
    "bp-creeping-up",
    "heart-rate-falling",
    *("ordinary-noise",) * 12,
)
# Readings written a transaction (a few SQLite pages' worth).
READINGS_A_WRITE = 2_000


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
    past_readings: bool = True,
    progress: ProgressCallback | None = None,
    on_written: Callable[[Path], None] | None = None,
) -> ImportReport:
    """Write the synthetic register (same format as the street office's) and import it; with
    `past_readings`, weeks of readings for a few of its health monitors too (the demo's)."""
    today = dt.datetime.now(settings.tz).date()
    path = settings.data_dir / f"synthetic_register_{count}_{seed}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_synthetic_register(path, count, seed=seed, as_of=today)
    if on_written is not None:
        on_written(path)
    await ensure_staff_and_roster(sessions, settings)
    report = await import_register_file(
        sessions, path, as_of=today, actor="seed", progress=progress
    )
    if past_readings:
        # The past weeks of a few monitors, so that the demo's first baseline round finds drifts;
        # monitors of the demo's fleet, which go on reporting (else, three days on, each would be
        # a monitor gone quiet).
        fleet = demo_cast(await read_profiles(sessions), DEMO_DEVICES, random.Random(DEMO_DEVICES))
        await seed_reading_histories(
            sessions, ends=dt.datetime.now(settings.tz), seed=seed,
            among={profile.device_id for profile in fleet},
        )  # fmt: skip
    return report


async def seed_reading_histories(
    sessions: async_sessionmaker[AsyncSession],
    *,
    ends: dt.datetime,
    seed: int = DEMO_REGISTER_SEED,
    histories: tuple[str, ...] = DEMO_HISTORIES,
    among: Collection[str] = (),
) -> dict[str, str]:
    """Weeks of past readings, up to `ends`, for a few of the register's health monitors (one
    history each, on monitors it fits), recorded as the gateway records readings and marked
    judged, as they would have been on their day; returns each chosen monitor's history.
    Monitors of `among` are chosen first.

    The wire cannot carry last month (the gateway refuses readings stamped a day away), so the
    demo's past is written here; what the baseline task makes of it is its own judgement.
    """
    rng = random.Random(seed)
    async with sessions() as session:
        found = await session.execute(
            select(Device.id, Device.elder_id, Elder.conditions)
            .join(Elder, Elder.id == Device.elder_id)
            .where(Device.kind == DeviceKind.HEALTH_MONITOR, Elder.life_status == LifeStatus.ACTIVE)
            .order_by(Device.id)
        )
        monitors = [
            (
                elder_id,
                DeviceProfile(device, DeviceKind.HEALTH_MONITOR, "", tuple(conditions or ())),
            )
            for device, elder_id, conditions in found
            if elder_id is not None
        ]
    rng.shuffle(monitors)
    monitors.sort(key=lambda monitor: monitor[1].device_id not in among)  # stable: still shuffled
    chosen: dict[str, str] = {}
    taken: set[int] = set()
    rows: list[dict[str, Any]] = []
    for name in histories:
        history = HISTORIES[name]
        pick = next(((e, p) for e, p in monitors if e not in taken and fits(history, p)), None)
        if pick is None:
            continue  # a register too small for this history: the demo goes without it
        elder_id, profile = pick
        taken.add(elder_id)
        chosen[profile.device_id] = name
        rows.extend(
            _reading_row(profile.device_id, elder_id, moment, message)
            for moment, message in readings(history, profile, ends, rng)
        )
    # The gateway's own writes (on SQLite, its writer thread): the path its readings take.
    writes = write_transactions(sessions)
    try:
        for first in range(0, len(rows), READINGS_A_WRITE):
            await writes.run(record_events, rows[first : first + READINGS_A_WRITE])
    finally:
        await writes.close()
    return chosen


def _reading_row(
    device_id: str, elder_id: int, moment: dt.datetime, message: dict[str, Any]
) -> dict[str, Any]:
    """A past reading as the gateway records it (gateway/ingest: the protocol's model without
    its empty fields), received and judged at its moment."""
    return {
        "device_id": device_id, "message_id": str(message["id"]), "type": "vitals",
        "elder_id": elder_id, "device_ts": moment, "received_at": moment, "transport": "mqtt",
        "payload": JsonText(Vitals.model_validate(message).model_dump_json(exclude_none=True)),
        "judged_at": moment,
    }  # fmt: skip
