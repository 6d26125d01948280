"""Alarm benchmark: does the alarm engine keep up, and does an SOS pass the readings' backlog?

Default: one machine, one Mosquitto, `eldercare up` in its own process (gateway, alarm engine,
escalation, the live feed) on SQLite, as `./dev up` runs it:
  (a) the cost of one routing decision (the rules alone, against the seeded street's centres
      and roster, for random elders' homes);
  (b) the bare broker's round trip for the same presses, the part of the latency no call
      centre can remove;
  (c) at each asked rate of readings (the fleet's ~430/s, and 10x): device events arriving
      (recorded by the gateway) against events judged, a second, from the events table
      (rows, and rows still unjudged, at the start and the end of the presses); and an SOS
      published to its incident assigned and pushed on `/ws/feed`, p50/p99/max;
  (d) the engine's own ceiling: `--backlog` readings recorded at once (straight into the
      events table, as the gateway writes them) and judged as fast as the engine takes them
      (judged/s), while SOS presses go on: their latency is an alarm's ahead of that backlog.

`--callcentres N`: PostgreSQL + Redis, no broker. `--backlog` readings recorded and announced
on the Redis stream before the call centres start, judged by 1 and then N call-centre processes
(`eldercare up --role callcenter`); SOS events recorded and announced meanwhile, timed from
their recording to their judging. Prints judged/s for each (over the middle 80 % of the
backlog, by the rows' judged_at) and the ratio of N to 1.

Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt
import asyncpg
import redis.asyncio as aioredis
import websockets
from sqlalchemy import func, insert, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.common import (
    event_loop_lag,
    free_port,
    lag_quantile,
    print_profile,
    py_spy,
    quantile,
)
from bench.ingest.run import (
    GATEWAY_PASSWORD,
    GATEWAY_USER,
    Load,
    _device_logins,
    _wait_http,
    _wait_port,
    client,
    eldercare,
    sos,
)
from callcenter.pipeline.tasks import GROUP
from callcenter.routing import repository as routing_repository
from callcenter.routing.service import route
from devices.ids import DeviceKind
from devices.protocol import (
    ALARM_PREFIX,
    UPLINK_PREFIX,
    alarm_topic,
    downlink_topic,
    uplink_topic,
)
from gateway.broker.session import alarm_lane_username
from kernel.database import JsonText, create_engine, session_factory
from kernel.models import Device, DeviceEvent, Elder, as_utc, utcnow
from kernel.settings import Settings
from kernel.streams import EventStream

Sessions = async_sessionmaker[AsyncSession]
# Readings recorded a transaction when a backlog is written at once (the gateway's own chunks
# are 1,024 rows; bigger ones only make the write longer for the engine waiting on SQLite).
RECORD_CHUNK = 5_000
# How often the drain of a backlog is looked at (a count over the unjudged rows' index).
DRAIN_POLL_S = 0.1


async def routing_cost(data: Path, decisions: int) -> tuple[float, int]:
    """Microseconds per routing decision, and how many centres had someone on duty."""
    settings = Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]
    engine = create_engine(settings.effective_database_url)
    async with session_factory(engine)() as session:
        centres = await routing_repository.centres_now(session, utcnow())
        homes = [(lat, lon) for lat, lon in await session.execute(select(Elder.lat, Elder.lon))]
    await engine.dispose()
    picks = [random.choice(homes) for _ in range(decisions)]
    seconds = timeit.timeit(lambda: [route(h, centres) for h in picks], number=1)
    return seconds / decisions * 1e6, sum(1 for c in centres if c.on_duty)


def sign_in(http_port: int, data: Path) -> str:
    """A bearer token for the demo operator (the password `eldercare up` made)."""
    password = (data / "demo-accounts.txt").read_text().splitlines()[0].strip()
    request = urllib.request.Request(
        f"http://127.0.0.1:{http_port}/api/auth/sign-in",
        data=json.dumps({"username": "op1", "password": password, "token": True}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(json.loads(answer.read())["token"])


def press_topic(sos_topic: str, device: str) -> str:
    """Where a timed terminal presses: the alarm topic, or (`uplink`) as older terminals do."""
    return alarm_topic(device) if sos_topic == "alarm" else uplink_topic(device)


async def bare_round_trip(
    port: int, terminals: list[tuple[str, str]], sos_topic: str
) -> list[float]:
    """Publish-to-delivery times (ms) through the bare broker, one press per terminal."""
    times = []
    # The alarm topic is read by the gateway's alarm-lane login alone (broker-config's ACL).
    login = alarm_lane_username(GATEWAY_USER) if sos_topic == "alarm" else GATEWAY_USER
    async with client(port, login, GATEWAY_PASSWORD) as watcher:
        prefix = ALARM_PREFIX if sos_topic == "alarm" else UPLINK_PREFIX
        await watcher.subscribe(prefix + "+", qos=1)
        messages = aiter(watcher.messages)
        for n, (device, secret) in enumerate(terminals):
            async with client(port, device, secret) as terminal:
                sent = time.perf_counter()
                await terminal.publish(press_topic(sos_topic, device), sos(10_000 + n), qos=1)
                await asyncio.wait_for(anext(messages), 10)
                times.append((time.perf_counter() - sent) * 1000)
    return times


@dataclass
class Phase:
    """One phase's figures: events arriving and judged a second, SOS latencies (ms)."""

    name: str
    asked: float | None = None  # readings/s the load was asked for
    reached: float | None = None  # readings/s it published
    arriving: float = 0.0  # device events recorded a second
    judged: float = 0.0  # device events judged a second
    backlog: int = 0  # events unjudged at the phase's end
    latencies: list[float] | None = None  # SOS to the feed (or, on PostgreSQL, to judged)
    acks: list[float] | None = None  # SOS to the gateway's ack
    missed: int = 0
    # Of the latency, the call centre's part: the SOS's arrival at the gateway to the commit
    # that judged it (both stamped on its row), ms.
    judging: list[float] | None = None
    # Of the latency, the broker's and the gateway's reading part: the SOS's publish (the
    # pressing terminal's clock) to its arrival at the gateway (stamped on its row; one machine,
    # one clock), ms; and when each timed press was published (time.time()).
    arriving_ms: list[float] | None = None
    sent_at: dict[str, float] = field(default_factory=dict)
    # The call centre's event loop over the phase: how late a probe due every 0.1 s ran, p50 and
    # p99 ms (bucket bounds): the wait every step of an SOS had for its turn.
    loop_lag: tuple[float, float] = (0.0, 0.0)


async def event_counts(sessions: Sessions) -> tuple[int, int]:
    """Device events recorded so far, and those of them not judged yet."""
    async with sessions() as session:
        total = await session.scalar(select(func.count()).select_from(DeviceEvent))
    return int(total or 0), await unjudged_count(sessions)


async def unjudged_count(sessions: Sessions) -> int:
    """Device events not judged yet (a count over the partial index of those alone)."""
    async with sessions() as session:
        query = select(func.count()).select_from(DeviceEvent).where(DeviceEvent.judged_at.is_(None))
        return int(await session.scalar(query) or 0)


class Window:
    """Events arriving and judged a second between `start` and `stop`, from the events table."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        self._start = (0, 0, 0.0)

    async def start(self) -> None:
        self._start = (*await event_counts(self._sessions), time.perf_counter())

    async def stop(self, phase: Phase) -> None:
        total, unjudged = await event_counts(self._sessions)
        seconds = time.perf_counter() - self._start[2]
        phase.arriving = (total - self._start[0]) / seconds
        phase.judged = ((total - unjudged) - (self._start[0] - self._start[1])) / seconds
        phase.backlog = unjudged


async def monitors_of(sessions: Sessions, count: int) -> list[tuple[str, int | None]]:
    """Health monitors bound to elders (device id, elder id)."""
    async with sessions() as session:
        rows = await session.execute(
            select(Device.id, Device.elder_id)
            .where(Device.kind == DeviceKind.HEALTH_MONITOR, Device.elder_id.is_not(None))
            .order_by(Device.id)
            .limit(count)
        )
        return [(device, elder) for device, elder in rows]


def readings(monitors: list[tuple[str, int | None]], count: int, tag: str) -> Iterator[dict]:
    """Rows of normal readings as the gateway records them (the load's values)."""
    now = utcnow()
    stamp = now.isoformat()
    for n in range(count):
        device, elder = monitors[n % len(monitors)]
        message = f"{tag}-{n}"
        body = {"v": 1, "id": message, "ts": stamp, "type": "vitals", "hr": 60 + n % 40}
        yield {
            "device_id": device, "message_id": message, "type": "vitals", "elder_id": elder,
            "device_ts": now, "received_at": now, "transport": "mqtt",
            "payload": JsonText(json.dumps({**body, "spo2": 97})), "judged_at": None,
            "judge_error": None,
        }  # fmt: skip


async def record(sessions: Sessions, rows: list[dict]) -> None:
    """Record rows in the events table, in one transaction."""
    async with sessions() as session, session.begin():
        for start in range(0, len(rows), RECORD_CHUNK):
            await session.execute(insert(DeviceEvent), rows[start : start + RECORD_CHUNK])


async def drain(sessions: Sessions, limit_s: float = 600) -> float:
    """Seconds until no event is left unjudged (or `limit_s` passed)."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        if not await unjudged_count(sessions):
            break
        await asyncio.sleep(DRAIN_POLL_S)
    return time.perf_counter() - started


async def press_to_feed(
    port: int,
    http_port: int,
    token: str,
    terminals: list[tuple[str, str]],
    phase: Phase,
    window: Window,
    *,
    load: Load | None,
    sos_topic: str,
    until: asyncio.Future[float] | None = None,
) -> None:
    """SOS publish to its incident on the live feed (ms), and to the gateway's ack, one press
    per terminal every 0.1 s, under readings published by `load` (or until `until` is done);
    events arriving and judged meanwhile."""
    feed = await websockets.connect(
        f"ws://127.0.0.1:{http_port}/ws/feed",
        additional_headers={"Authorization": f"Bearer {token}"},
        max_queue=None,
    )
    arrived: dict[str, float] = {}
    heard: dict[str, asyncio.Event] = {d: asyncio.Event() for d, _ in terminals}

    async def listen() -> None:
        async for frame in feed:
            device = json.loads(frame)["incident"]["device_id"]
            if device in heard and device not in arrived:
                arrived[device] = time.perf_counter()
                heard[device].set()

    listener = asyncio.create_task(listen())
    async with asyncio.TaskGroup() as group:
        connected = [group.create_task(_connect(port, d, s)) for d, s in terminals]
    if load is not None:
        await load.ready()
        load.go()
        await asyncio.sleep(1.0)  # let the load reach its rate
        await window.start()
    phase.latencies, phase.acks = [], []
    for n, ((device, _secret), session) in enumerate(zip(terminals, connected, strict=True)):
        if until is not None and until.done():
            break
        terminal = session.result()
        await terminal.subscribe(downlink_topic(device), qos=1)
        acked = asyncio.create_task(_first_downlink(terminal))
        sent = time.perf_counter()
        phase.sent_at[device] = time.time()
        await terminal.publish(press_topic(sos_topic, device), sos(Load.runs * 10**7 + n), qos=1)
        try:
            await asyncio.wait_for(heard[device].wait(), 10)
            phase.latencies.append((arrived[device] - sent) * 1000)
            phase.acks.append((await asyncio.wait_for(acked, 10) - sent) * 1000)
        except TimeoutError:
            phase.missed += 1
            acked.cancel()  # its terminal disconnects at the end: nobody is waiting for it
            if listener.done():
                listener.result()  # the feed's reader failed: say why
        if (n + 1) % 10 == 0:
            print(f"    {n + 1} presses, {phase.missed} missed", flush=True)
        await asyncio.sleep(0.1)
    if load is not None:
        await window.stop(phase)
        published, seconds = await load.finish(stop=True)
        phase.reached = published / seconds
    for task in connected:
        await task.result().__aexit__(None, None, None)
    listener.cancel()
    await feed.close()


async def ceiling_with_presses(
    sessions: Sessions,
    port: int,
    http_port: int,
    token: str,
    terminals: list[tuple[str, str]],
    backlog: int,
    sos_topic: str,
) -> Phase:
    """The engine's ceiling: `backlog` readings recorded at once, judged/s until none is left,
    with SOS presses meanwhile."""
    phase = Phase("ceiling")
    monitors = await monitors_of(sessions, 50)
    rows = list(readings(monitors, backlog, f"backlog-{uuid.uuid4().hex[:8]}"))
    await record(sessions, rows)
    drained = asyncio.ensure_future(drain(sessions))
    window = Window(sessions)
    await press_to_feed(
        port,
        http_port,
        token,
        terminals,
        phase,
        window,
        load=None,
        sos_topic=sos_topic,
        until=drained,
    )
    phase.judged = backlog / await drained
    phase.judging = await _recorded_to_judged(sessions, devices=[d for d, _ in terminals])
    phase.arriving_ms = await _published_to_arrival(sessions, phase.sent_at)
    return phase


async def callcentre_scaling(args: argparse.Namespace) -> None:
    """judged/s of 1 and of N call-centre processes on PostgreSQL + Redis, and their ratio."""
    admin = make_url(args.postgres_url)
    name = f"bench_alarms_{uuid.uuid4().hex[:8]}"
    await _admin(admin, f'CREATE DATABASE "{name}"')
    url = admin.set(drivername="postgresql+asyncpg", database=name)
    database_url = url.render_as_string(hide_password=False)
    phases: list[Phase] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-alarms-") as folder:
            data = Path(folder)
            env = {**os.environ, "ELDERCARE_DATA_DIR": str(data),
                   "ELDERCARE_DATABASE_URL": database_url}  # fmt: skip
            print("preparing: 2,000 elders on PostgreSQL ...", flush=True)
            subprocess.run(
                [sys.executable, "-m", "eldercare", "seed", "--count", "2000"],
                check=True, env=env, cwd=data, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            engine = create_engine(database_url)
            sessions = session_factory(engine)
            try:
                for count in (1, args.callcentres):
                    print(f"{count} call-centre process(es): {args.backlog:,} readings", flush=True)
                    phases.append(await _judged_by(sessions, env, data, args, count))
            finally:
                await engine.dispose()
    finally:
        await _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print()
    print(
        f"PostgreSQL + Redis, {args.backlog:,} readings recorded and announced before the call"
        " centres start (judged/s over the middle 80 %):"
    )
    print(f"{'processes':>9} {'judged/s':>9}   SOS recorded -> judged: p50 / p99 / max ms")
    for phase in phases:
        print(f"{phase.name:>9} {phase.judged:9,.0f}   {_spread(phase.latencies)}")
    one, many = phases
    print(f"ratio {many.name} / {one.name}: {many.judged / one.judged:.2f}")


async def _judged_by(
    sessions: Sessions, env: dict[str, str], data: Path, args: argparse.Namespace, count: int
) -> Phase:
    """Record the backlog and announce it on a fresh stream, then start `count` call centres and
    time its judging; an SOS recorded and announced every 0.1 s meanwhile.

    The stream holds the whole backlog before any call centre starts, so that this process's
    own sending is not timed with their judging (docs/alarms.md). judged/s is over the middle
    80 % of the backlog by the rows' own judged_at: neither the processes' start nor the last
    stragglers count."""
    prefix = f"bench-alarms-{uuid.uuid4().hex[:8]}:"
    run_env = {**env, "ELDERCARE_REDIS_URL": args.redis_url, "ELDERCARE_REDIS_PREFIX": prefix,
               "ELDERCARE_LOG_LEVEL": "WARNING"}  # fmt: skip
    stream = EventStream(args.redis_url, prefix)
    phase = Phase(f"{count}")
    centres: list[subprocess.Popen[bytes]] = []
    try:
        monitors = await monitors_of(sessions, 50)
        tag = uuid.uuid4().hex[:8]
        rows = list(readings(monitors, args.backlog, f"backlog-{tag}"))
        await record(sessions, rows)
        await stream.join(GROUP)
        await stream.append([(row["device_id"], row["message_id"]) for row in rows])
        await stream.flush()
        ports = [free_port() for _ in range(count)]
        up = [sys.executable, "-m", "eldercare", "up", "--role", "callcenter", "--no-seed"]
        centres = [
            subprocess.Popen(
                [*up, "--port", str(port)],
                env=run_env,
                cwd=data,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for port in ports
        ]
        for port in ports:
            _wait_http(port)
        drained = asyncio.ensure_future(drain(sessions))
        alarms = await _record_alarms_until(sessions, stream, drained, tag)
        await drained
        phase.judged = await _judging_rate(sessions, f"backlog-{tag}-")
        phase.latencies = await _recorded_to_judged(sessions, alarms)
    finally:
        await stream.close()
        for centre in centres:
            centre.send_signal(signal.SIGINT)
        for centre in centres:
            try:
                centre.wait(60)
            except subprocess.TimeoutExpired:
                centre.kill()
        await _forget(args.redis_url, prefix)
    return phase


async def _judging_rate(sessions: Sessions, prefix: str) -> float:
    """Events a second over the middle 80 % of those whose message id starts with `prefix`, by
    the moments they were judged."""
    query = (
        select(DeviceEvent.judged_at)
        .where(DeviceEvent.message_id.startswith(prefix), DeviceEvent.judged_at.is_not(None))
        .order_by(DeviceEvent.judged_at)
    )
    async with sessions() as session:
        moments = [as_utc(at).timestamp() for at in await session.scalars(query)]
    first, last = int(len(moments) * 0.1), int(len(moments) * 0.9)
    span = moments[last] - moments[first]
    return (last - first) / span if span > 0 else float("inf")


async def _record_alarms_until(
    sessions: Sessions, stream: EventStream, done: asyncio.Future[float], tag: str
) -> list[str]:
    """Record and announce an SOS of a different terminal every 0.1 s until `done`; their ids."""
    async with sessions() as session:
        terminals = (
            await session.execute(
                select(Device.id, Device.elder_id)
                .where(Device.kind == DeviceKind.SOS_TERMINAL, Device.elder_id.is_not(None))
                .order_by(Device.id)
                .limit(200)
            )
        ).all()
    messages = []
    for n, (device, elder) in enumerate(terminals):
        if done.done():
            break
        now = utcnow()
        message = f"sos-{tag}-{n}"
        body = {"v": 1, "id": message, "ts": now.isoformat(), "type": "sos", "button": "main"}
        await record(sessions, [{
            "device_id": device, "message_id": message, "type": "sos", "elder_id": elder,
            "device_ts": now, "received_at": now, "transport": "mqtt",
            "payload": JsonText(json.dumps(body)), "judged_at": None, "judge_error": None,
        }])  # fmt: skip
        await stream.append([(device, message)])
        messages.append(message)
        await asyncio.sleep(0.1)
    return messages


async def _published_to_arrival(sessions: Sessions, sent_at: dict[str, float]) -> list[float]:
    """Milliseconds from each timed SOS's publish to its arrival at the gateway."""
    query = select(DeviceEvent.device_id, DeviceEvent.received_at).where(
        DeviceEvent.type == "sos", DeviceEvent.device_id.in_(list(sent_at))
    )
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    return [(as_utc(received).timestamp() - sent_at[device]) * 1000 for device, received in rows]


async def _recorded_to_judged(
    sessions: Sessions, messages: list[str] | None = None, devices: list[str] | None = None
) -> list[float]:
    """Milliseconds from each SOS's arrival to its judging (both stamped on its row), of these
    message ids or these devices."""
    query = select(DeviceEvent.received_at, DeviceEvent.judged_at).where(DeviceEvent.type == "sos")
    if messages is not None:
        query = query.where(DeviceEvent.message_id.in_(messages))
    if devices is not None:
        query = query.where(DeviceEvent.device_id.in_(devices))
    async with sessions() as session:
        rows = await session.execute(query)
        return [
            (judged - received).total_seconds() * 1000
            for received, judged in rows
            if judged is not None
        ]


async def _admin(url: URL, statement: str) -> None:
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _forget(url: str, prefix: str) -> None:
    """Delete the run's stream and group from Redis."""
    client = aioredis.from_url(url)
    try:
        async for key in client.scan_iter(match=f"{prefix}*"):
            await client.delete(key)
    finally:
        await client.aclose()


def _spread(values: list[float] | None) -> str:
    if not values:
        return "-"
    if len(values) < 2:
        return f"{values[0]:.1f} (one)"
    return f"{quantile(values, 0.5):.1f} / {quantile(values, 0.99):.1f} / {max(values):.1f}"


async def _first_downlink(terminal: aiomqtt.Client) -> float:
    """When the terminal heard its first downlink message (the gateway's ack)."""
    async for _message in terminal.messages:
        return time.perf_counter()
    raise TimeoutError


async def _connect(port: int, device: str, secret: str) -> aiomqtt.Client:
    terminal = client(port, device, secret)
    await terminal.__aenter__()
    return terminal


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--monitors", type=int, default=50, help="publishing health monitors")
    parser.add_argument("--rates", default="430,4300", help="readings/s during the timed presses")
    parser.add_argument("--presses", type=int, default=100, help="SOS presses (terminals) per rate")
    parser.add_argument(
        "--sos-topic",
        choices=("alarm", "uplink"),
        default="alarm",
        help="where the timed terminals send their SOS: the alarm topic (default), or the uplink "
        "topic, as terminals made before the alarm topic do",
    )
    parser.add_argument("--decisions", type=int, default=20_000, help="routing decisions timed")
    parser.add_argument(
        "--backlog", type=int, default=100_000, help="readings recorded at once for the ceiling"
    )
    parser.add_argument(
        "--callcentres",
        type=int,
        default=0,
        help="instead: 1, then N call-centre processes on PostgreSQL + Redis, and their ratio",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("ELDERCARE_TEST_POSTGRES_URL", "postgresql://localhost/postgres"),
        help="a PostgreSQL login that may create databases (--callcentres; default "
        "ELDERCARE_TEST_POSTGRES_URL); a database of the run's own is made and dropped",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("ELDERCARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis for --callcentres (keys under a prefix of the run's own, deleted after)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="record `eldercare up` with py-spy (pip install py-spy) over the last rate's presses "
        "(10x by default), as collapsed stacks in this file, and print where its time went",
    )
    args = parser.parse_args()
    if args.callcentres:
        await callcentre_scaling(args)
        return
    mosquitto = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if mosquitto is None:
        sys.exit("bench/alarms needs Mosquitto (apt-get install mosquitto)")

    with tempfile.TemporaryDirectory(prefix="bench-alarms-") as folder:
        data = Path(folder)
        print("preparing: 2,000 elders, their devices, Mosquitto files ...", flush=True)
        eldercare(data, "seed", "--count", "2000")
        per_decision, staffed = await routing_cost(data, args.decisions)
        print(f"(a) routing: {per_decision:.1f} µs a decision ({staffed} centres staffed now)")
        broker_port, http_port = free_port(), free_port()
        env = {
            **os.environ,
            "ELDERCARE_DATA_DIR": str(data),
            "ELDERCARE_MQTT_GATEWAY_PASSWORD": GATEWAY_PASSWORD,
        }
        subprocess.run(
            [sys.executable, "-m", "eldercare", "broker-config", "--out", str(data / "mq"),
             "--port", str(broker_port), "--gateway-username", GATEWAY_USER],
            check=True, env=env, cwd=data, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        logins = dict(line.split(":", 1) for line in _device_logins(data))
        monitors = data / "monitors.json"
        monitors.write_text(
            json.dumps([(d, s) for d, s in logins.items() if d.startswith("BP")][: args.monitors])
        )
        terminals = [(d, s) for d, s in logins.items() if d[0].isdigit()]
        rates = [float(r) for r in args.rates.split(",")]
        needed = args.presses * (len(rates) + 2)
        if len(terminals) < needed:
            sys.exit(f"need {needed} terminals, the seed has {len(terminals)}")
        broker = subprocess.Popen(
            [mosquitto, "-c", str(data / "mq" / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        settings = Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]
        engine = create_engine(settings.effective_database_url)
        sessions = session_factory(engine)
        centre = None
        phases = []
        try:
            _wait_port(broker_port)
            print(f"(b) ceiling: {args.presses} presses through the bare broker", flush=True)
            bare = await bare_round_trip(broker_port, terminals[: args.presses], args.sos_topic)
            centre = subprocess.Popen(
                [sys.executable, "-m", "eldercare", "up", "--no-seed", "--no-demo",
                 "--port", str(http_port)],
                env={
                    **env,
                    "ELDERCARE_MQTT_URL": f"mqtt://{GATEWAY_USER}:{GATEWAY_PASSWORD}@127.0.0.1:{broker_port}",
                    "ELDERCARE_LOG_LEVEL": "WARNING",
                },
                cwd=data, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            _wait_http(http_port)
            await asyncio.sleep(1.0)  # the gateway's subscription settles
            token = sign_in(http_port, data)
            for n, rate in enumerate(rates, start=1):
                batch = terminals[n * args.presses : (n + 1) * args.presses]
                print(f"(c) {args.presses} presses, readings at {rate:,.0f}/s", flush=True)
                phase = Phase(f"{rate:,.0f}/s", asked=rate)
                lag_before = event_loop_lag(http_port)
                profiled = args.profile is not None and n == len(rates)
                spy = py_spy(centre.pid, args.profile) if profiled else None
                try:
                    await press_to_feed(
                        broker_port, http_port, token, batch, phase, Window(sessions),
                        load=Load(broker_port, monitors, rate=rate), sos_topic=args.sos_topic,
                    )  # fmt: skip
                finally:
                    if spy is not None:
                        spy.send_signal(signal.SIGINT)
                        spy.wait(60)
                phase.loop_lag = _loop_lag_since(http_port, lag_before)
                phase.judging = await _recorded_to_judged(sessions, devices=[d for d, _ in batch])
                phase.arriving_ms = await _published_to_arrival(sessions, phase.sent_at)
                phases.append(phase)
                left = await drain(sessions, limit_s=120)  # the next phase starts with none
                print(f"    backlog judged {left:.1f} s after the presses", flush=True)
            print(
                f"(d) the engine's ceiling: {args.backlog:,} readings at once, presses meanwhile",
                flush=True,
            )
            batch = terminals[(len(rates) + 1) * args.presses : (len(rates) + 2) * args.presses]
            lag_before = event_loop_lag(http_port)
            ceiling = await ceiling_with_presses(
                sessions, broker_port, http_port, token, batch, args.backlog, args.sos_topic
            )
            ceiling.loop_lag = _loop_lag_since(http_port, lag_before)
            phases.append(ceiling)
        finally:
            await engine.dispose()
            if centre is not None:
                centre.send_signal(signal.SIGINT)
                try:
                    centre.wait(60)
                except subprocess.TimeoutExpired:
                    centre.kill()
            broker.terminate()
            broker.wait(10)

    print()
    print(f"routing decision:                 {per_decision:8.1f} µs")
    print(
        f"bare broker round trip (ceiling): p50 {quantile(bare, 0.5):6.1f}  "
        f"p99 {quantile(bare, 0.99):6.1f}  max {max(bare):6.1f} ms"
    )
    print(
        f"Device events arriving and judged a second; SOS published (on the {args.sos_topic} topic)"
    )
    print("-> incident assigned on the live feed, ms (and, of that, -> the gateway's ack;")
    print("-> arrival at the gateway; arrival at the gateway -> judged):")
    print(
        f"{'readings':>10} {'reached/s':>10} {'arriving/s':>11} {'judged/s':>9} {'backlog':>8}"
        f" {'p50':>7} {'p99':>7} {'max':>7} {'missed':>7} {'ack p50':>8} {'ack p99':>8}"
        f" {'arrive p50':>10} {'arrive p99':>10} {'judge p50':>10} {'judge p99':>10}"
        f" {'loop p50':>9} {'loop p99':>9}"
    )
    for phase in phases:
        latencies, acks = phase.latencies or [0.0, 0.0], phase.acks or [0.0, 0.0]
        judging = phase.judging if phase.judging and len(phase.judging) > 1 else [0.0, 0.0]
        arriving_ms = phase.arriving_ms if phase.arriving_ms else [0.0, 0.0]
        reached = f"{phase.reached:10,.0f}" if phase.reached is not None else f"{'-':>10}"
        arriving = f"{phase.arriving:11,.0f}" if phase.asked is not None else f"{'-':>11}"
        print(
            f"{phase.name:>10} {reached} {arriving} {phase.judged:9,.0f} {phase.backlog:8,d}"
            f" {quantile(latencies, 0.5):7.1f} {quantile(latencies, 0.99):7.1f}"
            f" {max(latencies):7.1f} {phase.missed:7d} {quantile(acks, 0.5):8.1f}"
            f" {quantile(acks, 0.99):8.1f} {quantile(arriving_ms, 0.5):10.1f}"
            f" {quantile(arriving_ms, 0.99):10.1f} {quantile(judging, 0.5):10.1f}"
            f" {quantile(judging, 0.99):10.1f} {phase.loop_lag[0]:9.0f} {phase.loop_lag[1]:9.0f}"
        )
    print(
        "(arriving/judged: from the events table over the presses; backlog: unjudged at their end;"
    )
    print(f" ceiling: {args.backlog:,} readings recorded at once, judged/s until none was left;")
    print(" loop: how late the call centre's event loop ran a probe due every 0.1 s, ms, as the")
    print(" upper bound of its histogram bucket)")
    if args.profile:
        print_profile(args.profile, f"the call centre over the presses at {rates[-1]:,.0f}/s")


def _loop_lag_since(http_port: int, before: dict[float, float]) -> tuple[float, float]:
    after = event_loop_lag(http_port)
    return lag_quantile(before, after, 0.5), lag_quantile(before, after, 0.99)


if __name__ == "__main__":
    asyncio.run(main())
