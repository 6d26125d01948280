"""The gateway's parts for one process: registry, batch writer, ingest, presence, MQTT client."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Coroutine
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.ingest.registry import DeviceRegistry
from gateway.ingest.service import Ingest
from gateway.ingest.tasks import BatchWriter, WriteLock
from gateway.mqtt import BrokerLogin, run_mqtt_ingest
from gateway.presence import sweep_presence
from kernel.database import is_sqlite
from kernel.settings import Settings

log = logging.getLogger(__name__)

# Registrations and re-bindings made by other processes (an import) reach this cache this fast.
REGISTRY_REFRESH_S = 60.0


class GatewayRuntime:
    """Starts and stops the gateway's background work in the order that loses nothing."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.registry = DeviceRegistry(sessions)
        write_lock: WriteLock = (
            asyncio.Lock()
            if is_sqlite(settings.effective_database_url)
            else contextlib.nullcontext()
        )
        self.writer = BatchWriter(sessions, write_lock)
        self.ingest = Ingest(
            sessions,
            self.registry,
            self.writer,
            max_skew=dt.timedelta(seconds=settings.max_clock_skew_s),
            write_lock=write_lock,
        )
        self.mqtt_connected = asyncio.Event()
        self._sessions = sessions
        self._settings = settings
        self._tasks: list[asyncio.Task[None]] = []

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
        self._spawn(sweep_presence(self._sessions, offline_after), "presence-sweep")
        self._spawn(self._refresh_registry(), "registry-refresh")

    def start_mqtt(self, login: BrokerLogin) -> None:
        """Begin taking uplinks from the broker."""
        self._spawn(
            run_mqtt_ingest(login, self.ingest, connected=self.mqtt_connected), "mqtt-ingest"
        )

    async def stop(self) -> None:
        """Stop taking messages first, then write what is queued."""
        for task in reversed(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.writer.stop()

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))

    async def _refresh_registry(self) -> None:
        while True:
            await asyncio.sleep(REGISTRY_REFRESH_S)
            try:
                await self.registry.load()
            except (SQLAlchemyError, OSError):
                log.exception("registry refresh failed; keeping the previous copy")
