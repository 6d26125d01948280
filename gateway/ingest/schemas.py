"""Records at the gateway's transport boundary."""

from __future__ import annotations

import dataclasses
import datetime as dt

from devices.ids import DeviceKind


@dataclasses.dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the gateway must know of a registered device to take its messages."""

    device_id: str
    kind: DeviceKind
    elder_id: int | None
    secret: str


@dataclasses.dataclass(frozen=True, slots=True)
class Inbound:
    """One message as a transport received it, before anything is decided about it."""

    transport: str  # "mqtt" or "ws"
    device_id: str | None  # from the topic or the handshake; None if the topic named none
    topic: str | None
    payload: bytes
    received_at: dt.datetime
