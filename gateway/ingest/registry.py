"""An in-memory copy of the device registry, so each message costs no database lookup."""

from __future__ import annotations

import hmac
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.ingest.schemas import DeviceInfo
from kernel.models import Device

# An id that is not registered is asked for again only after this long, so a flood of messages
# from one unknown device does not become a flood of queries.
UNKNOWN_RETRY_S = 30.0


class DeviceRegistry:
    """Devices by id, loaded whole at start and refreshed; a miss is looked up once."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._devices: dict[str, DeviceInfo] = {}
        self._unknown_until: dict[str, float] = {}

    async def load(self) -> int:
        """Read every registered device (also the periodic refresh); returns how many."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Device.id, Device.kind, Device.elder_id, Device.secret)
            )
            self._devices = {row[0]: DeviceInfo(*row) for row in rows}
        self._unknown_until.clear()
        return len(self._devices)

    def known(self, device_id: str) -> DeviceInfo | None:
        """The device if it is in the copy (every message's lookup, no await); else see `get`."""
        return self._devices.get(device_id)

    async def get(self, device_id: str) -> DeviceInfo | None:
        """The device, or None if it is not registered."""
        info = self.known(device_id)
        if info is not None:
            return info
        if self._unknown_until.get(device_id, 0.0) > time.monotonic():
            return None
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Device.id, Device.kind, Device.elder_id, Device.secret).where(
                        Device.id == device_id
                    )
                )
            ).first()
        if row is None:
            self._unknown_until[device_id] = time.monotonic() + UNKNOWN_RETRY_S
            return None
        info = DeviceInfo(*row)
        self._devices[device_id] = info
        return info

    async def check_login(self, device_id: str, secret: str) -> bool:
        """True when the id is registered and the secret is its current one."""
        info = await self.get(device_id)
        return info is not None and _same(info.secret, secret)


def _same(a: str, b: str) -> bool:
    # Constant-time comparison: a login check must not tell how much of a secret was right.
    return hmac.compare_digest(a.encode(), b.encode())
