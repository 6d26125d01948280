"""Home devices, each bound to at most one elder, with the state the gateway last saw."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from devices.ids import DeviceKind
from kernel.models.base import Base, utcnow
from kernel.models.enums import string_enum


class Device(Base):
    """A registered device: SOS terminal (IMEI), health monitor (BP…) or door sensor (MC…)."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[DeviceKind] = mapped_column(string_enum(DeviceKind, 16))
    # None: registered but bound to no elder; its SOS still reaches the street centre.
    elder_id: Mapped[int | None] = mapped_column(
        ForeignKey("elders.id", ondelete="SET NULL"), index=True
    )
    # Issued at registration; kept retrievable because installers must write it into the terminal.
    secret: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    secret_issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    online: Mapped[bool] = mapped_column(default=False)
    last_seen_at: Mapped[dt.datetime | None]
    # The last time it sensed something (a door opening), as opposed to saying it is alive.
    last_activity_at: Mapped[dt.datetime | None]
    battery: Mapped[int | None]
    rssi: Mapped[int | None]
    firmware: Mapped[str | None] = mapped_column(String(32))
