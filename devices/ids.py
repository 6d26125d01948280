"""Device identifiers of the home-terminal protocol: what a valid id looks like and what kind it names."""

from __future__ import annotations

import enum
import re


class DeviceKind(enum.StrEnum):
    """The three kinds of home device the protocol knows."""

    SOS_TERMINAL = "sos_terminal"
    HEALTH_MONITOR = "health_monitor"
    DOOR_SENSOR = "door_sensor"


_IMEI = re.compile(r"\d{15}")
_HEALTH_MONITOR = re.compile(r"BP\d{10}")
_DOOR_SENSOR = re.compile(r"MC\d{10}")


def luhn_check_digit(digits: str) -> int:
    """The Luhn check digit that completes `digits` (an IMEI's first 14 digits)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if (
            position % 2 == 0
        ):  # doubled: these sit at odd positions once the check digit is appended
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def is_valid_imei(value: str) -> bool:
    """True for 15 digits whose last is the Luhn check digit of the first 14."""
    return bool(_IMEI.fullmatch(value)) and luhn_check_digit(value[:14]) == int(value[14])


def kind_of(device_id: str) -> DeviceKind | None:
    """The kind a well-formed device id names, or None when the id is not well formed."""
    if is_valid_imei(device_id):
        return DeviceKind.SOS_TERMINAL
    if _HEALTH_MONITOR.fullmatch(device_id):
        return DeviceKind.HEALTH_MONITOR
    if _DOOR_SENSOR.fullmatch(device_id):
        return DeviceKind.DOOR_SENSOR
    return None
