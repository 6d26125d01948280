"""Shapes of device credentials: a device as the operator list shows it, and what a terminal needs."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from devices.ids import DeviceKind


class DeviceRow(BaseModel):
    """One registered device with the elder it is bound to (None for an unbound device)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    kind: DeviceKind
    elder_id: int | None
    elder_name: str | None
    community_code: str | None
    online: bool
    last_seen_at: dt.datetime | None
    battery: int | None


class DeviceCredentials(BaseModel):
    """What an installer writes into a terminal to connect it over MQTT (docs/protocol.md)."""

    model_config = ConfigDict(frozen=True)

    device_id: str
    username: str
    password: str
    client_id: str
    uplink_topic: str
    alarm_topic: str  # sos, fall, cancel and service (docs/protocol.md)
    downlink_topic: str
