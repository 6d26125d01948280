"""What devices say: device profiles, uplink messages, a daily rhythm of readings, and broken payloads."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from devices.ids import DeviceKind

STREET_TZ = ZoneInfo("Asia/Shanghai")
HYPERTENSION = "高血压"
DIABETES = "糖尿病"
DEMENTIA = "阿尔茨海默症"

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """One registered device as the simulators need it: its login and what its elder lives with."""

    device_id: str
    kind: DeviceKind
    secret: str = field(repr=False)
    conditions: tuple[str, ...] = ()
    community_code: str | None = None
    living_alone: bool = False


def encode(message: Mapping[str, Any]) -> bytes:
    """The message as the UTF-8 JSON a device puts on the wire."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def device_clock(at: dt.datetime | None = None) -> str:
    """The device's clock reading, RFC 3339 with the street's offset, as terminals stamp it."""
    moment = at or dt.datetime.now(dt.UTC)
    return moment.astimezone(STREET_TZ).isoformat(timespec="milliseconds")


def new_id() -> str:
    """A fresh message id; a resend keeps the id it was first given."""
    return uuid.uuid4().hex[:16]


def stamped(type_: str, **fields: Any) -> Message:
    """An uplink message of this type with a new id and the device's current time."""
    return {"v": 1, "id": new_id(), "ts": device_clock(), "type": type_, **fields}


def sos(button: str = "main") -> Message:
    return stamped("sos", button=button)


def service(need: str = "meal") -> Message:
    return stamped("service", need=need)


def cancel(ref: str) -> Message:
    return stamped("cancel", ref=ref)


def fall(confidence: float = 0.9) -> Message:
    return stamped("fall", confidence=confidence)


def door(state: str) -> Message:
    return stamped("door", state=state)


def heartbeat(battery: int, rssi: int = -71, fw: str = "1.4.2") -> Message:
    return stamped("heartbeat", battery=battery, rssi=rssi, fw=fw)


def location(lat: float, lon: float, acc_m: float = 15.0) -> Message:
    return stamped("location", lat=round(lat, 6), lon=round(lon, 6), acc_m=acc_m)


def vitals(**readings: float | int) -> Message:
    return stamped("vitals", **readings)


def _elder_offset(device_id: str, salt: str, spread: float) -> float:
    """A stable per-elder offset in [-spread, spread]: the same elder reads alike every day."""
    return (zlib.crc32(f"{salt}:{device_id}".encode()) / 0xFFFFFFFF * 2 - 1) * spread


def _circadian(hour: float, peak_hour: float) -> float:
    """-1..1 over the day, highest at peak_hour."""
    return math.cos((hour - peak_hour) / 24 * 2 * math.pi)


def _after_meal(hour: float) -> float:
    """0..1: how far glucose is raised by the last meal (07:30, 12:00, 18:00), fading over 3 h."""
    rise = 0.0
    for meal in (7.5, 12.0, 18.0):
        since = hour - meal
        if 0 <= since < 3:
            rise = max(rise, math.sin(min(since, 1.0) * math.pi / 2) * (1 - max(0, since - 1) / 2))
    return rise


def daily_reading(profile: DeviceProfile, at: dt.datetime, rng: random.Random) -> Message:
    """A plausible reading for this elder at this local time: a morning blood-pressure surge,
    a night dip, glucose after meals, and higher baselines for the elder's conditions.

    The values stay out of the alarm bands (a quiet street raises no alarms on its own);
    the scenarios send the dangerous ones.
    """
    local = at.astimezone(STREET_TZ)
    hour = local.hour + local.minute / 60
    hypertensive = HYPERTENSION in profile.conditions
    diabetic = DIABETES in profile.conditions
    day = _circadian(hour, peak_hour=9.0)  # blood pressure peaks mid-morning, dips at night
    base_sys = (142 if hypertensive else 122) + _elder_offset(profile.device_id, "sys", 6)
    base_dia = (88 if hypertensive else 76) + _elder_offset(profile.device_id, "dia", 4)
    bp_sys = base_sys + 7 * day + rng.gauss(0, 4)
    bp_dia = base_dia + 4 * day + rng.gauss(0, 3)
    bp_sys, bp_dia = min(bp_sys, 156), min(bp_dia, 96)  # below the grade-2 warning (160/100)
    fasting = (7.2 if diabetic else 5.2) + _elder_offset(profile.device_id, "glu", 0.5)
    glucose = fasting + (3.0 if diabetic else 1.8) * _after_meal(hour) + rng.gauss(0, 0.3)
    temp = 36.5 + 0.3 * _circadian(hour, peak_hour=17.0) + rng.gauss(0, 0.1)
    reading: Message = {
        "bp_sys": round(bp_sys),
        "bp_dia": round(min(bp_dia, bp_sys - 25)),
        "hr": round(70 + _elder_offset(profile.device_id, "hr", 6) + 5 * day + rng.gauss(0, 3)),
        "spo2": round(min(99.0, 97 + rng.gauss(0, 0.8)), 0),
    }
    if diabetic or rng.random() < 0.3:
        reading["glucose"] = round(min(max(glucose, 4.4), 12.5), 1)
    if rng.random() < 0.3:
        reading["temp"] = round(temp, 1)
    return vitals(**reading)


@dataclass(frozen=True, slots=True)
class BadPayload:
    """A malformed uplink and the reason the gateway must give for refusing it."""

    reason: str
    payload: bytes


def bad_payloads(kind: DeviceKind) -> list[BadPayload]:
    """One payload for each way a device of this kind can get a message wrong."""
    now = device_clock()
    skewed = device_clock(dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    # A type this kind of device does not send: a door sensor reading blood pressure, say.
    foreign: Message = (
        door("open") if kind is not DeviceKind.DOOR_SENSOR else vitals(bp_sys=120, bp_dia=80)
    )
    return [
        BadPayload("not_json", b'{"v":1,"id":"bad-1","type":"sos",'),
        BadPayload("not_utf8", b'{"v":1,"id":"bad-2","type":"\xff\xfe"}'),
        BadPayload("not_an_object", b'[1,"sos"]'),
        BadPayload("too_large", encode({**heartbeat(80), "fw": "x" * 5000})),
        BadPayload("unsupported_version", encode({**heartbeat(80), "v": 2})),
        BadPayload("unknown_type", encode(stamped("selfdestruct"))),
        BadPayload("missing_field", encode({"v": 1, "id": new_id(), "ts": now, "type": "fall"})),
        BadPayload("invalid_field", encode(vitals(spo2=140))),
        BadPayload("bad_timestamp", encode({**heartbeat(80), "ts": "yesterday at noon"})),
        BadPayload("clock_skew", encode({**vitals(hr=72), "ts": skewed})),
        BadPayload("unexpected_type", encode(foreign)),
    ]
