"""Personal-baselines benchmark: false trend notices over the demo fleet's ordinary readings, slow
drifts caught and how soon, and the baseline task's run time against the bare read of the
readings it works on.

One run, on a street seeded as `./dev up` seeds it (`eldercare seed`, SQLite by default):
  (a) every health monitor of the street gets weeks of the fleet's own readings
      (`simulators/histories.py`, `messages.daily_reading` at the fleet's four a day, at random
      moments), written into the events table with their moments, as the gateway would have
      recorded them day after day; `--drifting` of the monitors (elders without hypertension)
      get a blood pressure creeping up 24/12 mmHg over two weeks, starting a week into the
      evaluated weeks;
  (b) the baseline task (`callcenter.care.tasks.check_baselines`) once every simulated day,
      after the six weeks it needs to learn, over `--weeks` weeks: trend notices of the ordinary
      elders are false alarms (per 1,000 elder-weeks), and a drifting elder's first notice
      after its drift began is a catch (days from the drift's start);
  (c) each round's run time, against the floor measured on the same database in the same run:
      counting the same window's readings by the same index (what any computation over them
      costs at least); the round's own grouped query alone (the rest of a round is statistics
      and writes); and fetching the readings into Python (what judging them one by one, outside
      the database, would read first).
Figures are printed; nothing is asserted. `--database-url` runs it on PostgreSQL instead (a
database of the run's own there, made and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.common import quantile
from bench.ingest.run import eldercare
from callcenter.care import repository
from callcenter.care.baselines import LOOKBACK_DAYS
from callcenter.care.tasks import check_baselines
from devices.ids import DeviceKind
from kernel.database import JsonText, create_engine, session_factory
from kernel.models import Device, DeviceEvent, Elder, Incident, IncidentEntry, IncidentKind
from kernel.settings import Settings
from simulators.histories import HISTORIES, Drift, History, fits, readings
from simulators.messages import DeviceProfile

Sessions = async_sessionmaker[AsyncSession]
# Six weeks before the evaluated ones: the baseline's window (four weeks ending a fortnight
# ago) is full from then on, as for a monitor installed six weeks before.
LEARNING_DAYS = LOOKBACK_DAYS
# The drift starts a week into the evaluated weeks and takes two to build up.
DRIFT_STARTS_AFTER_DAYS = 7
RECORD_CHUNK = 5_000
# The rounds run at 03:00 local, as an hourly task's first round of a new day would.
ROUND_HOUR = 3


@dataclass(frozen=True)
class Monitor:
    elder_id: int
    profile: DeviceProfile
    drift_starts: dt.datetime | None  # None: ordinary readings only


async def monitors(sessions: Sessions) -> list[tuple[int, DeviceProfile]]:
    """Every health monitor bound to an elder, with the elder's conditions."""
    async with sessions() as session:
        rows = await session.execute(
            select(Device.id, Device.elder_id, Elder.conditions)
            .join(Elder, Elder.id == Device.elder_id)
            .where(Device.kind == DeviceKind.HEALTH_MONITOR)
            .order_by(Device.id)
        )
        return [
            (elder, DeviceProfile(device, DeviceKind.HEALTH_MONITOR, "s", tuple(conditions)))
            for device, elder, conditions in rows
            if elder is not None
        ]


def cast(
    found: list[tuple[int, DeviceProfile]], drifting: int, starts: dt.datetime, rng: random.Random
) -> list[Monitor]:
    """The monitors, `drifting` of them (among those the drift fits) with a drift."""
    creep = HISTORIES["bp-creeping-up"]
    suitable = [elder for elder, profile in found if fits(creep, profile)]
    chosen = set(rng.sample(suitable, min(drifting, len(suitable))))
    return [
        Monitor(elder, profile, starts if elder in chosen else None) for elder, profile in found
    ]


def history_of(monitor: Monitor, days: int, history_starts: dt.datetime) -> History:
    """The monitor's whole history: ordinary, or with the creep from its start day."""
    if monitor.drift_starts is None:
        return History("ordinary", "", "", days)
    day = (monitor.drift_starts - history_starts).days
    drifts = tuple(
        Drift(d.vital, d.change, day, d.over_days, d.lowest, d.highest)
        for d in HISTORIES["bp-creeping-up"].drifts
    )
    return History("creeping", "", "", days, drifts=drifts)


async def write_histories(
    sessions: Sessions, cast_: list[Monitor], days: int, ends: dt.datetime, rng: random.Random
) -> int:
    """Every monitor's readings into the events table; returns how many."""
    starts = ends - dt.timedelta(days=days)
    rows: list[dict[str, object]] = []
    written = 0

    async def flush() -> None:
        async with sessions() as session, session.begin():
            await session.execute(insert(DeviceEvent), rows)

    for monitor in cast_:
        for moment, message in readings(
            history_of(monitor, days, starts), monitor.profile, ends, rng
        ):
            rows.append({
                "device_id": monitor.profile.device_id, "message_id": str(message["id"]),
                "type": "vitals", "elder_id": monitor.elder_id, "device_ts": moment,
                "received_at": moment, "transport": "mqtt",
                "payload": JsonText(json.dumps(message)), "judged_at": moment,
                "judge_error": None,
            })  # fmt: skip
            if len(rows) >= RECORD_CHUNK:
                await flush()
                written += len(rows)
                rows.clear()
    if rows:
        await flush()
        written += len(rows)
    return written


async def floors(
    sessions: Sessions, settings: Settings, now: dt.datetime
) -> tuple[float, float, float, int]:
    """Seconds to count the round's readings by the events' index, to group them by elder and
    day as the round does (its query alone), and to fetch them into Python, for the same elders
    and window as a round at `now`; and how many there are."""
    starts = repository.day_starts(now, settings.tz, LOOKBACK_DAYS)
    async with sessions() as session:
        elders = sorted(await repository.watched_elders(session))
        chunks = [
            elders[first : first + repository.ELDERS_A_QUERY]
            for first in range(0, len(elders), repository.ELDERS_A_QUERY)
        ]

        window = (DeviceEvent.received_at >= starts[-1], DeviceEvent.type == "vitals")
        began = time.perf_counter()
        counted = 0
        for chunk in chunks:
            query = select(func.count()).where(*window, DeviceEvent.elder_id.in_(chunk))
            counted += int(await session.scalar(query) or 0)
        count_s = time.perf_counter() - began
        began = time.perf_counter()
        for chunk in chunks:
            rows = select(DeviceEvent.elder_id, DeviceEvent.received_at, DeviceEvent.payload)
            (await session.execute(rows.where(*window, DeviceEvent.elder_id.in_(chunk)))).all()
        fetch_s = time.perf_counter() - began
        began = time.perf_counter()
        await repository.readings_by_day(session, elders, starts)
        grouped_s = time.perf_counter() - began
    return count_s, grouped_s, fetch_s, counted


async def notices_by_elder(sessions: Sessions) -> dict[int, list[tuple[dt.datetime, str]]]:
    """Every trend notice, by elder: when it opened and what it is about."""
    async with sessions() as session:
        rows = await session.execute(
            select(Incident.elder_id, Incident.opened_at, Incident.group_key).where(
                Incident.kind == IncidentKind.TREND
            )
        )
        found: dict[int, list[tuple[dt.datetime, str]]] = {}
        for elder, opened, key in rows:
            if elder is None:
                continue
            found.setdefault(elder, []).append((opened, (key or "").removeprefix("trend:")))
        joined = await session.scalar(
            select(func.count()).where(IncidentEntry.action == "trend_added")
        )
    print(f"    steps adding another vital's trend to an open notice: {joined}")
    return found


async def run(args: argparse.Namespace, data: Path, url: str | None) -> None:
    settings = Settings(_env_file=None, data_dir=data, database_url=url)  # type: ignore[call-arg]
    print(f"preparing: a street of {args.elders:,} register rows ...", flush=True)
    eldercare(data, "seed", "--count", str(args.elders))
    engine = create_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    rng = random.Random(args.seed)
    try:
        days = LEARNING_DAYS + 7 * args.weeks
        today = dt.datetime.now(settings.tz).date()
        ends = dt.datetime.combine(today, dt.time(ROUND_HOUR), settings.tz)
        first_round = ends - dt.timedelta(days=7 * args.weeks)
        drift_starts = first_round + dt.timedelta(days=DRIFT_STARTS_AFTER_DAYS)
        cast_ = cast(await monitors(sessions), args.drifting, drift_starts, rng)
        ordinary = [m for m in cast_ if m.drift_starts is None]
        drifting = [m for m in cast_ if m.drift_starts is not None]
        print(
            f"(a) {len(cast_):,} health monitors: {len(ordinary):,} ordinary, {len(drifting)} "
            f"drifting; {days} days of readings each ...",
            flush=True,
        )
        began = time.perf_counter()
        written = await write_histories(sessions, cast_, days, ends, rng)
        print(f"    {written:,} readings written in {time.perf_counter() - began:.0f} s")

        print(f"(b) the task once a simulated day, {7 * args.weeks} rounds ...", flush=True)
        took: list[float] = []
        moment = first_round + dt.timedelta(days=1)
        while moment <= ends:
            began = time.perf_counter()
            await check_baselines(sessions, settings, moment)
            took.append(time.perf_counter() - began)
            moment += dt.timedelta(days=1)
        count_s, grouped_s, fetch_s, counted = await floors(sessions, settings, ends)

        notices = await notices_by_elder(sessions)
        false = Counter(
            subject for m in ordinary for _opened, subject in notices.get(m.elder_id, [])
        )
        elder_weeks = len(ordinary) * args.weeks
        total = sum(false.values())
        print(
            f"    false alarms: {total} trend notices for {len(ordinary):,} ordinary elders over "
            f"{args.weeks} weeks = {total / elder_weeks * 1000:.2f} per 1,000 elder-weeks "
            f"({', '.join(f'{s} {n}' for s, n in false.most_common()) or 'none'})"
        )
        delays = []
        for monitor in drifting:
            after = [o for o, _s in notices.get(monitor.elder_id, []) if o >= drift_starts]
            if after:
                delays.append((min(after) - drift_starts) / dt.timedelta(days=1))
        if drifting:
            print(
                f"    drifts caught: {len(delays)} of {len(drifting)}; days from the drift's start"
                f" to the notice: median {statistics.median(delays) if delays else 0:.0f}, "
                f"range {min(delays, default=0):.0f}-{max(delays, default=0):.0f} (the creep is "
                f"complete after 14)"
            )
        print(f"(c) one round over {counted:,} readings of {len(cast_):,} elders:")
        print(
            f"    task p50 {statistics.median(took):.2f} s, p90 {quantile(took, 0.9):.2f} s, "
            f"max {max(took):.2f} s"
        )
        print(
            f"    floor: counting them {count_s:.2f} s; the round's grouped query alone "
            f"{grouped_s:.2f} s; fetching them into Python {fetch_s:.2f} s; task p50 / counting "
            f"= {statistics.median(took) / count_s:.1f}x"
        )
    finally:
        await engine.dispose()


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--elders", type=int, default=6_000, help="register rows seeded (a third have a monitor)"
    )
    parser.add_argument("--weeks", type=int, default=8, help="weeks evaluated, after six to learn")
    parser.add_argument("--drifting", type=int, default=50, help="monitors with a slow drift")
    parser.add_argument("--seed", type=int, default=21, help="the readings' random seed")
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL login that may create databases (postgresql://...): run there, in a "
        "database of the run's own; default: SQLite in a temporary folder, as ./dev up",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-baselines-") as folder:
        data = Path(folder)
        if args.database_url is None:
            await run(args, data, None)
            return
        admin = make_url(args.database_url)
        name = f"bench_baselines_{uuid.uuid4().hex[:8]}"
        plain = admin.set(drivername="postgresql").render_as_string(hide_password=False)
        await _admin(plain, f'CREATE DATABASE "{name}"')
        url = admin.set(drivername="postgresql+asyncpg", database=name)
        os.environ["ELDERCARE_DATABASE_URL"] = url.render_as_string(hide_password=False)
        try:
            await run(args, data, os.environ["ELDERCARE_DATABASE_URL"])
        finally:
            await _admin(plain, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
