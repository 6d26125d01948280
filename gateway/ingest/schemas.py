"""Records at the gateway's transport boundary."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from devices.ids import DeviceKind


@dataclasses.dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the gateway must know of a registered device to take its messages."""

    device_id: str
    kind: DeviceKind
    elder_id: int | None
    secret: str


def no_transport_ack() -> None:
    """A transport with no acknowledgement of its own (WebSocket: the protocol's `ack` is all)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Inbound:
    """One message as a transport received it, before anything is decided about it."""

    transport: str  # "mqtt" or "ws"
    device_id: str | None  # from the topic or the handshake; None if the topic named none
    topic: str | None
    payload: bytes
    received_at: dt.datetime
    # The transport's acknowledgement, called once the message is durably recorded (MQTT: the
    # PUBACK; until then the broker keeps the message, to deliver again if the gateway dies).
    recorded: Callable[[], object] = no_transport_ack
