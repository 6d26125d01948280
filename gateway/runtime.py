"""The gateway's parts for one process: registry, batch writer, ingest, presence, MQTT client."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devices.protocol import downlink_topic
from gateway.ingest.bounds import BOUNDS_POLL_S, OwnBounds
from gateway.ingest.registry import ROTATION_POLL_S, DeviceRegistry
from gateway.ingest.service import Ingest
from gateway.ingest.tasks import Announce, BatchWriter, WriteLock
from gateway.mqtt import AlarmTurn, BrokerLogin, run_mqtt_ingest
from gateway.notices import run_notice_sender
from gateway.presence import sweep_presence
from kernel.database import write_transactions, write_turn
from kernel.settings import Settings
from kernel.supervisor import Supervisor

log = logging.getLogger(__name__)

# Registrations and re-bindings made by other processes (an import) reach this cache this fast.
REGISTRY_REFRESH_S = 60.0
# The broker may be away this long (a reconnect after a blip) before /healthz says so.
MQTT_DOWN_GRACE_S = 10.0
# How long a stop waits for the MQTT client to close before it cancels it once more.
STOP_MQTT_S = 5.0


class LanesConnected:
    """Whether both MQTT lanes (uplinks, alarms) are connected and subscribed."""

    def __init__(self) -> None:
        self.uplinks = asyncio.Event()
        self.alarms = asyncio.Event()

    def is_set(self) -> bool:
        """Both lanes are up."""
        return self.uplinks.is_set() and self.alarms.is_set()

    async def wait(self) -> None:
        """Until both lanes are up."""
        while not self.is_set():
            await self.uplinks.wait()
            await self.alarms.wait()


class GatewayRuntime:
    """Starts and stops the gateway's background work in the order that loses nothing."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        announce: Announce | None = None,
    ) -> None:
        self.registry = DeviceRegistry(sessions)
        write_lock: WriteLock = write_turn(sessions)
        # Readings and alarms are written through these (on SQLite, whole in a thread of their own).
        self._writes = write_transactions(sessions)
        self.writer = BatchWriter(self._writes, write_lock, announce)
        self.bounds = OwnBounds(sessions)
        self.ingest = Ingest(
            self._writes,
            self.registry,
            self.writer,
            max_skew=dt.timedelta(seconds=settings.max_clock_skew_s),
            # Alarms are recorded before their ack: their turn comes before routine writers'.
            write_lock=write_turn(sessions, urgent=True),
            bounds=self.bounds,
            announce=announce,
        )
        self.mqtt_connected = LanesConnected()
        # Terminals on WebSocket, by device id: how to send them a frame, how to close them.
        self.sockets: dict[str, Callable[[bytes], Awaitable[None]]] = {}
        self.socket_closers: dict[str, Callable[[], Awaitable[None]]] = {}
        self.registry.on_rotated(self._close_socket)
        self._mqtt_publish: Callable[[str, bytes], Awaitable[None]] | None = None
        self._sessions = sessions
        self._settings = settings
        # Every loop of the gateway runs under it: one that raises is logged, counted and
        # started again, and /healthz names it while it is down.
        self.supervisor = Supervisor()
        self._stop = self.supervisor.stop_signal
        self._mqtt_tasks: list[asyncio.Task[None]] = []
        # Since when each lane is not connected (None: it is).
        self._mqtt_down_since: dict[str, float | None] = {}

    async def start(self) -> None:
        """Load the registry, start writing, sweeping presence and refreshing the registry."""
        try:
            log.info("gateway knows %d devices", await self.registry.load())
        except (SQLAlchemyError, OSError):
            # Come up anyway: /healthz tells the outage, lookups retry per device, refresh reloads.
            log.exception(
                "device registry not loaded at start; retrying every %.0f s", REGISTRY_REFRESH_S
            )
        try:
            await self.bounds.load()
        except (SQLAlchemyError, OSError):
            # Until it is read every reading goes to the alarm engine, as before this copy.
            log.exception("elders' own vital bounds not read at start; retrying")
        self.writer.start()
        offline_after = dt.timedelta(seconds=self._settings.device_offline_after_s)
        self.supervisor.start(
            "presence-sweep", lambda: sweep_presence(self._sessions, offline_after, self._stop)
        )
        self.supervisor.start("registry-refresh", self._refresh_registry)
        self.supervisor.start("secret-rotations", self._follow_rotations)
        self.supervisor.start("own-vital-bounds", self._follow_bounds)
        self.supervisor.start(
            "notice-sender", lambda: run_notice_sender(self._sessions, self.deliver, self._stop)
        )

    def start_mqtt(self, login: BrokerLogin) -> None:
        """Begin taking uplinks and alarms from the broker, each lane on its own connection."""
        now = time.monotonic()
        self._mqtt_down_since = {"mqtt": now, "mqtt-alarms": now}
        turn = AlarmTurn()  # the uplink lane waits while the alarm lane has an alarm in hand
        self._mqtt_tasks = [
            self.supervisor.start(
                "mqtt-ingest",
                lambda: run_mqtt_ingest(
                    login,
                    self.ingest,
                    connected=self.mqtt_connected.uplinks,
                    on_publisher=self._set_publisher,
                    turn=turn,
                ),
            ),
            self.supervisor.start(
                "mqtt-alarms",
                lambda: run_mqtt_ingest(
                    login.alarm_lane(),
                    self.ingest,
                    connected=self.mqtt_connected.alarms,
                    on_publisher=lambda publish: self._lane_up("mqtt-alarms", publish is not None),
                    turn=turn,
                ),
            ),
        ]

    def _set_publisher(self, publish: Callable[[str, bytes], Awaitable[None]] | None) -> None:
        self._mqtt_publish = publish
        self._lane_up("mqtt", publish is not None)

    def _lane_up(self, lane: str, up: bool) -> None:
        if up:
            self._mqtt_down_since[lane] = None
        else:
            self._mqtt_down_since[lane] = self._mqtt_down_since.get(lane) or time.monotonic()

    def problems(self) -> dict[str, str]:
        """What keeps this gateway from serving devices now: loops down, the broker away."""
        found = self.supervisor.problems()
        for lane, since in self._mqtt_down_since.items():
            away = 0.0 if since is None else time.monotonic() - since
            if away >= MQTT_DOWN_GRACE_S:
                found[lane] = f"not connected to the broker for {away:.0f} s"
        if not self.writer.running:
            found["batch-writer"] = "not running"
        return found

    async def deliver(self, device_id: str, payload: bytes) -> bool:
        """Send a downlink message on the device's WebSocket, else its MQTT downlink topic."""
        send = self.sockets.get(device_id)
        if send is not None:
            await send(payload)
            return True
        if self._mqtt_publish is not None and self.mqtt_connected.uplinks.is_set():
            await self._mqtt_publish(downlink_topic(device_id), payload)
            return True
        return False

    async def stop(self) -> None:
        """Stop taking messages first, let every loop finish its round, then write what is queued."""
        if self._mqtt_tasks:
            # What is queued is written while the connection is up, so its PUBACKs reach the
            # broker and it delivers nothing of it again (a failure here is met again below).
            with contextlib.suppress(SQLAlchemyError, OSError):
                await self.writer.flush()
            # The readers wait on the broker, not the database: cancelling them there is clean.
            for task in self._mqtt_tasks:
                task.cancel()
            _, waiting = await asyncio.wait(self._mqtt_tasks, timeout=STOP_MQTT_S)
            if waiting:
                # aiomqtt waits without a bound for the broker to see its DISCONNECT; a stop
                # does not wait for ever on a broker's goodbye (a test's teardown hung there).
                log.warning("MQTT client did not close within %.0f s; cancelled", STOP_MQTT_S)
                for task in waiting:
                    task.cancel()
            for task in self._mqtt_tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._mqtt_tasks = []
            self._mqtt_down_since = {}
        await self.supervisor.stop()
        try:
            await self.writer.stop()
        except Exception:
            # The database is away at the stop: what was not written was not acknowledged
            # either (its PUBACK waits for the write), so the broker delivers it again.
            log.exception("%d rows not written at stop; the broker keeps them", self.writer.pending)
        await self._writes.close()

    async def _close_socket(self, device_id: str) -> None:
        """Close the device's WebSocket (its secret was rotated); it must say hello again."""
        close = self.socket_closers.get(device_id)
        if close is not None:
            await close()

    async def _follow_rotations(self) -> None:
        while not await self._stop.pause(ROTATION_POLL_S):
            try:
                await self.registry.refresh_rotations()
            except (SQLAlchemyError, OSError):
                log.warning("rotations not read (database unavailable); trying again")

    async def _follow_bounds(self) -> None:
        while not await self._stop.pause(BOUNDS_POLL_S):
            try:
                await self.bounds.refresh(self.writer.flush)
            except (SQLAlchemyError, OSError):
                log.warning(
                    "elders' own vital bounds not read (database unavailable); trying again"
                )

    async def _refresh_registry(self) -> None:
        while not await self._stop.pause(REGISTRY_REFRESH_S):
            try:
                await self.registry.load()
            except (SQLAlchemyError, OSError):
                log.exception("registry refresh failed; keeping the previous copy")
