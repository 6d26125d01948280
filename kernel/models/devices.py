"""Home devices, each bound to at most one elder, with the state the gateway last saw."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from devices.ids import DeviceKind
from kernel.models.base import Base, utcnow
from kernel.models.enums import string_enum


def _issued_at_registration(context: DefaultExecutionContext) -> dt.datetime:
    """A new device's secret is issued as it is registered: the same instant, so that a secret
    issued later (`secret_issued_at > registered_at`) is a rotation and nothing else."""
    registered_at = context.get_current_parameters().get("registered_at")
    return registered_at if isinstance(registered_at, dt.datetime) else utcnow()


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
    secret_issued_at: Mapped[dt.datetime] = mapped_column(default=_issued_at_registration)
    online: Mapped[bool] = mapped_column(default=False)
    last_seen_at: Mapped[dt.datetime | None]
    # The last time it sensed something (a door opening), as opposed to saying it is alive.
    last_activity_at: Mapped[dt.datetime | None]
    battery: Mapped[int | None]
    rssi: Mapped[int | None]
    firmware: Mapped[str | None] = mapped_column(String(32))
