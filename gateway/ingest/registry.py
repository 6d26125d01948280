"""An in-memory copy of the device registry, so each message costs no database lookup.

A login (an MQTT CONNECT on the embedded broker, a WebSocket hello) is checked against the
database itself, so a rotated secret fails at once; the copy follows rotations within
ROTATION_POLL_S (`refresh_rotations`) and tells who listens (`on_rotated`) which devices' secrets
changed, so that their live connections are closed.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import Select, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devices.ids import DeviceKind
from gateway.ingest.schemas import DeviceInfo
from kernel.models import Device, utcnow

log = logging.getLogger(__name__)

# An id that is not registered is asked for again only after this long, so a flood of messages
# from one unknown device does not become a flood of queries.
UNKNOWN_RETRY_S = 30.0
# Rotations are looked for this often: a device connected with a rotated secret is thrown off
# within this long of the rotation's commit (a query over the devices rotated lately).
ROTATION_POLL_S = 1.0
# Each look goes back this far: rotations committed by other processes do not commit in the
# order of their timestamps, and a clock may be a little behind; a rotation seen twice is seen
# as no change the second time (its secret is already the copy's).
ROTATION_LOOKBACK = dt.timedelta(minutes=5)

Rotated = Callable[[str], Awaitable[object]]
"""Told the id of a device whose secret changed: close its connections."""

# A device in the copy: its kind's value, elder and secret. A tuple of strings and numbers,
# which the garbage collector stops tracking, where a `DeviceInfo` (one per device, the whole
# register built anew every REGISTRY_REFRESH_S) stays tracked: the register's 25,242 of them
# were half of what each of the collector's full passes walked, while every task waited, in
# `./dev bench fleet` (3.2 ms a pass on an idle core, 25-160 ms measured with the cores busy).
_Entry = tuple[str, int | None, str]
_KINDS = {kind.value: kind for kind in DeviceKind}


class DeviceRegistry:
    """Devices by id, loaded whole at start and refreshed; a miss is looked up once."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._devices: dict[str, _Entry] = {}
        self._unknown_until: dict[str, float] = {}
        self._rotated: list[Rotated] = []

    async def load(self) -> int:
        """Read every registered device (also the periodic refresh); returns how many."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Device.id, Device.kind, Device.elder_id, Device.secret)
            )
            devices = {row[0]: (row[1].value, row[2], row[3]) for row in rows}
        changed = [
            device_id
            for device_id, entry in self._devices.items()
            if device_id in devices and devices[device_id][2] != entry[2]
        ]
        self._devices = devices
        self._unknown_until.clear()
        await self._announce(changed)
        return len(self._devices)

    def known(self, device_id: str) -> DeviceInfo | None:
        """The device if it is in the copy (every message's lookup, no await); else see `get`."""
        entry = self._devices.get(device_id)
        return None if entry is None else DeviceInfo(device_id, _KINDS[entry[0]], *entry[1:])

    async def get(self, device_id: str) -> DeviceInfo | None:
        """The device, or None if it is not registered."""
        info = self.known(device_id)
        if info is not None:
            return info
        if self._unknown_until.get(device_id, 0.0) > time.monotonic():
            return None
        info = await self._read(device_id)
        if info is None:
            self._unknown_until[device_id] = time.monotonic() + UNKNOWN_RETRY_S
            return None
        self._keep(info)
        return info

    async def check_login(self, device_id: str, secret: str) -> bool:
        """True when the id is registered and the secret is its current one in the database.

        While the database is away, the copy answers (a rotation made meanwhile is not seen yet).
        """
        try:
            info = await self._read(device_id)
        except (SQLAlchemyError, OSError):
            log.warning("login of %s checked against the copy: database unavailable", device_id)
            return self.accepts(device_id, secret)
        if info is None:
            return False
        cached = self._devices.get(device_id)
        self._keep(info)
        if cached is not None and cached[2] != info.secret:
            await self._announce([device_id])
        return _same(info.secret, secret)

    def accepts(self, device_id: str, secret: str) -> bool:
        """Whether the copy holds this secret for this device (no database)."""
        entry = self._devices.get(device_id)
        return entry is not None and _same(entry[2], secret)

    def on_rotated(self, listener: Rotated) -> None:
        """Call `listener` with each device whose secret is found changed from now on."""
        self._rotated.append(listener)

    async def refresh_rotations(self) -> list[str]:
        """Take the secrets rotated lately into the copy; returns the devices whose changed."""
        since = utcnow() - ROTATION_LOOKBACK
        async with self._sessions() as session:
            rows = await session.execute(rotated_since(since))
            fresh = [DeviceInfo(*row) for row in rows]
        changed = []
        for info in fresh:
            cached = self._devices.get(info.device_id)
            if cached is not None and cached[2] != info.secret:
                changed.append(info.device_id)
            self._keep(info)
            self._unknown_until.pop(info.device_id, None)
        await self._announce(changed)
        return changed

    def _keep(self, info: DeviceInfo) -> None:
        self._devices[info.device_id] = (info.kind.value, info.elder_id, info.secret)

    async def _read(self, device_id: str) -> DeviceInfo | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Device.id, Device.kind, Device.elder_id, Device.secret).where(
                        Device.id == device_id
                    )
                )
            ).first()
        return None if row is None else DeviceInfo(*row)

    async def _announce(self, device_ids: list[str]) -> None:
        for device_id in device_ids:
            log.info("secret of device %s rotated: closing its connections", device_id)
            for listener in self._rotated:
                try:
                    await listener(device_id)
                except Exception:
                    log.exception("connections of %s not closed after its rotation", device_id)


def rotated_since(since: dt.datetime) -> Select[str, DeviceKind, int | None, str]:
    """The devices whose secret was rotated at or after `since` (id, kind, elder, secret).

    Rotations only: a device registered lately is not one (its secret is issued with it,
    `Device.secret_issued_at` equal to `registered_at`). Asked for too, a register imported in
    the last ROTATION_LOOKBACK was read whole every second: 25,242 devices read and built on
    the event loop each second for five minutes after `seed` (`./dev bench fleet`)."""
    return select(Device.id, Device.kind, Device.elder_id, Device.secret).where(
        Device.secret_issued_at >= since, Device.secret_issued_at > Device.registered_at
    )


def _same(a: str, b: str) -> bool:
    # Constant-time comparison: a login check must not tell how much of a secret was right.
    return hmac.compare_digest(a.encode(), b.encode())
