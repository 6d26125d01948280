"""The fleet: every registered device as its own MQTT client, at realistic rates, over worker processes.

One process may hold at most 20,000 open files here (FACTS.md), so the fleet is split into
worker processes of `DEVICES_PER_WORKER` devices, each an asyncio loop of gmqtt clients
(~20 KB each). With several brokers a device always goes to the same one (by a hash of its
id), as an installer would configure it. Each worker runs one schedule (a heap) for all its
devices rather than a task per device: a heartbeat a minute, a few readings a day, door
openings by day only, a position fix now and then, batteries slowly draining.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import logging
import math
import multiprocessing as mp
import queue
import random
import resource
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as ProcessEvent

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from devices.ids import DeviceKind
from simulators import messages as m
from simulators.devices import Broker, LinkRefusedError, MqttLink, SimulatedDevice
from simulators.messages import STREET_TZ, DeviceProfile

# Room under the 20,000 open files for the loop, logs and the odd reconnect in flight.
DEVICES_PER_WORKER = 10_000
# Connections opened at once per worker: gmqtt manages ~2,000 connects/s, amqtt far fewer;
# more in flight than the broker answers only turns into timeouts and retries.
CONNECTS_IN_FLIGHT = 200
CONNECT_ATTEMPTS = 3
HEARTBEAT_S = 60.0
DAY_S = 86_400.0
READINGS_PER_DAY = 4  # a morning, noon, evening and bedtime measurement, give or take
DOOR_VISITS_PER_DAY = 4  # each an opening and, a minute or two later, a closing
LOCATIONS_PER_DAY = 6
# Door sensors only see the door move by day: 06:30 to 21:30 local time.
DAY_STARTS_H, DAY_ENDS_H = 6.5, 21.5
# A terminal's battery lasts about three weeks; when low, someone charges it.
BATTERY_DRAIN_PER_S = 100 / (21 * DAY_S)
RECHARGE_BELOW = 12.0
STATUS_EVERY_S = 1.0


def broker_for(device_id: str, brokers: Sequence[Broker]) -> Broker:
    """The broker a device connects to: stable for its id, whatever process runs it."""
    return brokers[zlib.crc32(device_id.encode()) % len(brokers)]


@dataclass(frozen=True, slots=True)
class FleetPlan:
    """Where the fleet connects and how busy it is."""

    brokers: tuple[Broker, ...]
    rate: float = 1.0
    per_worker: int = DEVICES_PER_WORKER
    connects_in_flight: int = CONNECTS_IN_FLIGHT


@dataclass(slots=True)
class WorkerStatus:
    """What one worker process reports, every second."""

    worker: int
    devices: int
    connected: int = 0
    failed: int = 0
    sent: int = 0
    heard: int = 0
    rss_kb: int = 0
    cpu_s: float = 0.0
    connect_s: float | None = None  # how long connecting all its devices took, once done
    cpu_at_connected: float | None = None
    at: float = 0.0
    at_connected: float | None = None
    stopped: bool = False


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _is_day(moment: dt.datetime) -> bool:
    local = moment.astimezone(STREET_TZ)
    hour = local.hour + local.minute / 60
    return DAY_STARTS_H <= hour < DAY_ENDS_H


def _next_morning(moment: dt.datetime) -> dt.datetime:
    local = moment.astimezone(STREET_TZ)
    morning = local.replace(hour=6, minute=30, second=0, microsecond=0)
    return morning if morning > local else morning + dt.timedelta(days=1)


class Fleet:
    """A share of the fleet in one process: connects its devices and runs their daily routine."""

    def __init__(self, profiles: Sequence[DeviceProfile], plan: FleetPlan, rng: random.Random):
        self.plan, self._rng = plan, rng
        self.devices = [
            SimulatedDevice(p, MqttLink(broker_for(p.device_id, plan.brokers), p)) for p in profiles
        ]
        self._by_id = {device.device_id: device for device in self.devices}
        self.online: set[str] = set()
        self._lent: set[str] = set()
        self.failed = 0
        self.sent = 0
        self._battery = [rng.uniform(40, 100) for _ in profiles]
        self._schedule: list[tuple[float, int, int, str]] = []
        self._sequence = 0

    async def connect_all(self) -> None:
        """Connect every device, a bounded number at a time, retrying a few times each."""
        gate = asyncio.Semaphore(self.plan.connects_in_flight)

        async def connect(index: int, device: SimulatedDevice) -> None:
            for attempt in range(CONNECT_ATTEMPTS):
                async with gate:
                    try:
                        await device.connect()
                    except (LinkRefusedError, OSError, TimeoutError):
                        pass
                    else:
                        self.online.add(device.device_id)
                        # A device announces itself on boot, before its minute-by-minute beat.
                        await device.send(m.heartbeat(battery=math.floor(self._battery[index])))
                        self.sent += 1
                        return
                await asyncio.sleep(self._rng.uniform(0.5, 2.0) * (attempt + 1))
            self.failed += 1

        await asyncio.gather(*(connect(i, device) for i, device in enumerate(self.devices)))

    def _at(self, delay_s: float, index: int, action: str) -> None:
        self._sequence += 1
        heapq.heappush(self._schedule, (time.monotonic() + delay_s, self._sequence, index, action))

    def _every(self, per_day: float) -> float:
        """An exponential wait for an event that happens `per_day` times a day, sped up by rate."""
        return self._rng.expovariate(per_day * self.plan.rate / DAY_S)

    def _door_delay(self) -> float:
        delay = self._every(DOOR_VISITS_PER_DAY * DAY_S / ((DAY_ENDS_H - DAY_STARTS_H) * 3600))
        when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay)
        if _is_day(when):
            return delay
        # Nobody opens the door at night: the next visit comes in the morning.
        morning = _next_morning(when) + dt.timedelta(hours=self._rng.uniform(0, 2))
        return (morning - dt.datetime.now(dt.UTC)).total_seconds()

    def _plan_routine(self) -> None:
        heartbeat_s = HEARTBEAT_S / self.plan.rate
        for index, device in enumerate(self.devices):
            # Spread over the first interval, so that the broker sees a flat load, not waves.
            self._at(self._rng.uniform(0, heartbeat_s), index, "heartbeat")
            match device.profile.kind:
                case DeviceKind.HEALTH_MONITOR:
                    self._at(self._every(READINGS_PER_DAY), index, "reading")
                case DeviceKind.DOOR_SENSOR:
                    self._at(self._door_delay(), index, "door_open")
                case DeviceKind.SOS_TERMINAL:
                    self._at(self._every(LOCATIONS_PER_DAY), index, "location")

    async def _act(self, index: int, action: str) -> None:
        device = self.devices[index]
        heartbeat_s = HEARTBEAT_S / self.plan.rate
        match action:
            case "heartbeat":
                level = self._battery[index] - BATTERY_DRAIN_PER_S * HEARTBEAT_S
                self._battery[index] = 100.0 if level < RECHARGE_BELOW else level
                message = m.heartbeat(battery=math.floor(self._battery[index]))
                self._at(heartbeat_s, index, "heartbeat")
            case "reading":
                message = m.daily_reading(device.profile, dt.datetime.now(dt.UTC), self._rng)
                self._at(self._every(READINGS_PER_DAY), index, "reading")
            case "door_open":
                message = m.door("open")
                self._at(self._rng.uniform(30, 150) / self.plan.rate, index, "door_closed")
            case "door_closed":
                message = m.door("closed")
                self._at(self._door_delay(), index, "door_open")
            case _:
                # Around the elder's home (the register's position is not the simulators' to know).
                message = m.location(
                    22.67 + self._rng.gauss(0, 0.003), 114.13 + self._rng.gauss(0, 0.003)
                )
                self._at(self._every(LOCATIONS_PER_DAY), index, "location")
        if device.device_id in self.online and device.device_id not in self._lent:
            await device.send(message)
            self.sent += 1

    async def run_routine(self, stop: asyncio.Event) -> None:
        """Until stopped: send whatever is due, then sleep until the next thing is."""
        self._plan_routine()
        while not stop.is_set():
            now = time.monotonic()
            while self._schedule and self._schedule[0][0] <= now:
                _due, _seq, index, action = heapq.heappop(self._schedule)
                await self._act(index, action)
            wait = self._schedule[0][0] - now if self._schedule else 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(max(wait, 0.001), 1.0))

    @property
    def heard(self) -> int:
        return sum(len(device.heard) for device in self.devices)

    async def device(
        self, profile: DeviceProfile, listener: Callable[[m.Message], None] | None = None
    ) -> SimulatedDevice:
        """Lend a connected fleet device to a scenario; its routine pauses meanwhile."""
        device = self._by_id.get(profile.device_id)
        if device is None or profile.device_id not in self.online:
            raise LinkRefusedError(f"{profile.device_id} is not online in this fleet")
        self._lent.add(profile.device_id)
        if listener is not None:
            device.listeners.append(listener)
        return device

    async def release(self, device: SimulatedDevice) -> None:
        """The scenario is done: back to its routine."""
        self._lent.discard(device.device_id)
        device.listeners.clear()

    async def close(self) -> None:
        """Disconnect every device cleanly (no last wills: the fleet is stopped, not failing)."""
        gate = asyncio.Semaphore(self.plan.connects_in_flight)

        async def close(device: SimulatedDevice) -> None:
            async with gate:
                await device.close()

        await asyncio.gather(*(close(d) for d in self.devices if d.device_id in self.online))


async def _run_worker(
    index: int,
    profiles: Sequence[DeviceProfile],
    plan: FleetPlan,
    statuses: mp.Queue[WorkerStatus],
    stop: ProcessEvent,
) -> None:
    fleet = Fleet(profiles, plan, random.Random(index))
    status = WorkerStatus(worker=index, devices=len(profiles))
    started = time.monotonic()
    stopping = asyncio.Event()

    async def report() -> None:
        while True:
            status.connected, status.failed = len(fleet.online), fleet.failed
            status.sent, status.heard = fleet.sent, fleet.heard
            status.rss_kb, status.cpu_s, status.at = _rss_kb(), _cpu_s(), time.monotonic()
            statuses.put(status)
            if stop.is_set():
                stopping.set()
            await asyncio.sleep(STATUS_EVERY_S)

    reporter = asyncio.create_task(report())
    connecting = asyncio.create_task(fleet.connect_all())
    while not connecting.done() and not stop.is_set():
        await asyncio.wait({connecting}, timeout=0.5)
    if connecting.done():
        status.connect_s = time.monotonic() - started
        status.at_connected, status.cpu_at_connected = time.monotonic(), _cpu_s()
        await fleet.run_routine(stopping)
    else:
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
    reporter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reporter
    await fleet.close()
    status.stopped = True
    status.rss_kb, status.cpu_s, status.at = _rss_kb(), _cpu_s(), time.monotonic()
    statuses.put(status)


def _worker_main(
    index: int,
    profiles: list[DeviceProfile],
    plan: FleetPlan,
    statuses: mp.Queue[WorkerStatus],
    stop: ProcessEvent,
) -> None:
    # gmqtt warns for every lost connection; with thousands of devices that is noise.
    logging.getLogger("simulators").setLevel(logging.ERROR)
    logging.getLogger("gmqtt").setLevel(logging.ERROR)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with contextlib.suppress(
        KeyboardInterrupt
    ):  # Ctrl-C reaches the workers too; the parent stops them
        asyncio.run(_run_worker(index, profiles, plan, statuses, stop))


@dataclass
class FleetSummary:
    """The fleet's run in figures: per worker and in total."""

    devices: int
    brokers: tuple[Broker, ...]
    workers: dict[int, WorkerStatus] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def connected(self) -> int:
        return sum(s.connected for s in self.workers.values())

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.workers.values())

    @property
    def sent(self) -> int:
        return sum(s.sent for s in self.workers.values())

    @property
    def connect_s(self) -> float | None:
        times = [s.connect_s for s in self.workers.values()]
        return None if not times or None in times else max(t for t in times if t is not None)

    @property
    def rss_mb(self) -> float:
        return sum(s.rss_kb for s in self.workers.values()) / 1024

    def steady_cpu_percent(self, status: WorkerStatus) -> float | None:
        """CPU of one worker after its devices connected, in % of one core."""
        if status.at_connected is None or status.cpu_at_connected is None:
            return None
        span = status.at - status.at_connected
        return None if span <= 0 else (status.cpu_s - status.cpu_at_connected) / span * 100

    def describe(self) -> Table:
        table = Table(title=f"Fleet: {self.connected:,} of {self.devices:,} devices connected")
        for column in ("worker", "devices", "connected", "failed", "connect s", "RSS MB",
                       "CPU s", "steady CPU %", "sent"):  # fmt: skip
            table.add_column(column, justify="right")
        for index, s in sorted(self.workers.items()):
            steady = self.steady_cpu_percent(s)
            table.add_row(
                str(index), f"{s.devices:,}", f"{s.connected:,}", f"{s.failed:,}",
                "-" if s.connect_s is None else f"{s.connect_s:.1f}", f"{s.rss_kb / 1024:.0f}",
                f"{s.cpu_s:.1f}", "-" if steady is None else f"{steady:.1f}", f"{s.sent:,}",
            )  # fmt: skip
        return table


def split(profiles: Sequence[DeviceProfile], per_worker: int) -> list[list[DeviceProfile]]:
    """Shares of about equal size, none above per_worker."""
    workers = max(1, math.ceil(len(profiles) / per_worker))
    return [list(profiles[i::workers]) for i in range(workers)]


def run_fleet(
    profiles: Sequence[DeviceProfile],
    plan: FleetPlan,
    *,
    duration_s: float | None = None,
    on_status: Callable[[FleetSummary], None] = lambda _summary: None,
) -> FleetSummary:
    """Run the fleet in worker processes until duration_s passes (or Ctrl-C); their figures."""
    context = mp.get_context("spawn")  # no forking of a process that may hold loops or threads
    statuses: mp.Queue[WorkerStatus] = context.Queue()
    stop = context.Event()
    summary = FleetSummary(devices=len(profiles), brokers=plan.brokers)
    shares = split(profiles, plan.per_worker)
    workers = [
        context.Process(target=_worker_main, args=(i, share, plan, statuses, stop), daemon=True)
        for i, share in enumerate(shares)
    ]
    for i, share in enumerate(shares):
        summary.workers[i] = WorkerStatus(worker=i, devices=len(share))
    started = time.monotonic()
    for worker in workers:
        worker.start()
    try:
        while any(w.is_alive() for w in workers):
            if duration_s is not None and time.monotonic() - started >= duration_s:
                stop.set()
            try:
                status = statuses.get(timeout=0.5)
            except queue.Empty:
                continue
            summary.workers[status.worker] = status
            summary.wall_s = time.monotonic() - started
            on_status(summary)
            if all(s.stopped for s in summary.workers.values()):
                break
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        _drain_until_stopped(statuses, summary, workers)
    return summary


def _drain_until_stopped(
    statuses: mp.Queue[WorkerStatus],
    summary: FleetSummary,
    workers: Sequence[mp.process.BaseProcess],
) -> None:
    deadline = time.monotonic() + 120  # closing 10,000 connections cleanly takes a while
    while any(w.is_alive() for w in workers) and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty, KeyboardInterrupt):
            status = statuses.get(timeout=0.5)
            summary.workers[status.worker] = status
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
        worker.join(5)


def run_with_progress(
    profiles: Sequence[DeviceProfile],
    plan: FleetPlan,
    console: Console,
    *,
    duration_s: float | None = None,
) -> FleetSummary:
    """run_fleet with a live display: devices connected, messages sent, memory and CPU."""
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[detail]}"), console=console,
    )  # fmt: skip
    task = progress.add_task("connected", total=len(profiles), detail="")
    brokers = ", ".join(str(b) for b in plan.brokers)
    console.print(
        f"Fleet of {len(profiles):,} devices on {brokers}, "
        f"{len(split(profiles, plan.per_worker))} worker processes, rate x{plan.rate:g}. Ctrl-C stops."
    )
    with Live(progress, console=console, refresh_per_second=4) as live:

        def show(summary: FleetSummary) -> None:
            rate = summary.sent / summary.wall_s if summary.wall_s else 0.0
            detail = (
                f"failed {summary.failed:,}  sent {summary.sent:,} ({rate:,.0f}/s)  "
                f"RSS {summary.rss_mb:,.0f} MB"
            )
            progress.update(task, completed=summary.connected, detail=detail)
            live.update(Group(progress, summary.describe()))

        return run_fleet(profiles, plan, duration_s=duration_s, on_status=show)
