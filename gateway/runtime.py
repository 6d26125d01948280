"""The gateway's parts for one process: registry, batch writer, ingest, presence, MQTT client."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devices.protocol import downlink_topic
from gateway.ingest.registry import DeviceRegistry
from gateway.ingest.service import Ingest
from gateway.ingest.tasks import Announce, BatchWriter, WriteLock
from gateway.mqtt import BrokerLogin, run_mqtt_ingest
from gateway.notices import run_notice_sender
from gateway.presence import sweep_presence
from kernel.database import write_transactions, write_turn
from kernel.settings import Settings
from kernel.stopping import Stopping

log = logging.getLogger(__name__)

# Registrations and re-bindings made by other processes (an import) reach this cache this fast.
REGISTRY_REFRESH_S = 60.0
# How long a stop waits for the MQTT client to close before it cancels it once more.
STOP_MQTT_S = 5.0


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
        self.ingest = Ingest(
            self._writes,
            self.registry,
            self.writer,
            max_skew=dt.timedelta(seconds=settings.max_clock_skew_s),
            # Alarms are recorded before their ack: their turn comes before routine writers'.
            write_lock=write_turn(sessions, urgent=True),
            announce=announce,
        )
        self.mqtt_connected = asyncio.Event()
        # Terminals on WebSocket, by device id: how to send them a frame.
        self.sockets: dict[str, Callable[[bytes], Awaitable[None]]] = {}
        self._mqtt_publish: Callable[[str, bytes], Awaitable[None]] | None = None
        self._sessions = sessions
        self._settings = settings
        self._tasks: list[asyncio.Task[None]] = []
        self._mqtt_task: asyncio.Task[None] | None = None
        self._stop = Stopping()

    async def start(self) -> None:
        """Load the registry, start writing, sweeping presence and refreshing the registry."""
        try:
            log.info("gateway knows %d devices", await self.registry.load())
        except (SQLAlchemyError, OSError):
            # Come up anyway: /healthz tells the outage, lookups retry per device, refresh reloads.
            log.exception(
                "device registry not loaded at start; retrying every %.0f s", REGISTRY_REFRESH_S
            )
        self.writer.start()
        offline_after = dt.timedelta(seconds=self._settings.device_offline_after_s)
        self._spawn(sweep_presence(self._sessions, offline_after, self._stop), "presence-sweep")
        self._spawn(self._refresh_registry(), "registry-refresh")
        self._spawn(run_notice_sender(self._sessions, self.deliver, self._stop), "notice-sender")

    def start_mqtt(self, login: BrokerLogin) -> None:
        """Begin taking uplinks from the broker."""
        self._mqtt_task = asyncio.create_task(
            run_mqtt_ingest(
                login, self.ingest, connected=self.mqtt_connected, on_publisher=self._set_publisher
            ),
            name="mqtt-ingest",
        )

    def _set_publisher(self, publish: Callable[[str, bytes], Awaitable[None]] | None) -> None:
        self._mqtt_publish = publish

    async def deliver(self, device_id: str, payload: bytes) -> bool:
        """Send a downlink message on the device's WebSocket, else its MQTT downlink topic."""
        send = self.sockets.get(device_id)
        if send is not None:
            await send(payload)
            return True
        if self._mqtt_publish is not None and self.mqtt_connected.is_set():
            await self._mqtt_publish(downlink_topic(device_id), payload)
            return True
        return False

    async def stop(self) -> None:
        """Stop taking messages first, let every loop finish its round, then write what is queued."""
        if self._mqtt_task is not None:
            # What is queued is written while the connection is up, so its PUBACKs reach the
            # broker and it delivers nothing of it again (a failure here is met again below).
            with contextlib.suppress(SQLAlchemyError, OSError):
                await self.writer.flush()
            # The reader waits on the broker, not the database: cancelling it there is clean.
            self._mqtt_task.cancel()
            _, waiting = await asyncio.wait({self._mqtt_task}, timeout=STOP_MQTT_S)
            if waiting:
                # aiomqtt waits without a bound for the broker to see its DISCONNECT; a stop
                # does not wait for ever on a broker's goodbye (a test's teardown hung there).
                log.warning("MQTT client did not close within %.0f s; cancelled", STOP_MQTT_S)
                self._mqtt_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._mqtt_task
            self._mqtt_task = None
        self._stop.set()
        await asyncio.gather(*self._tasks)
        self._tasks.clear()
        await self.writer.stop()
        await self._writes.close()

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))

    async def _refresh_registry(self) -> None:
        while not await self._stop.pause(REGISTRY_REFRESH_S):
            try:
                await self.registry.load()
            except (SQLAlchemyError, OSError):
                log.exception("registry refresh failed; keeping the previous copy")
