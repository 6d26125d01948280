"""A simulated device on its own: resending until acknowledged, readings with a rhythm, casting."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from devices.ids import DeviceKind
from devices.protocol import decode_uplink
from devices.vitals import Band, assess, worst
from simulators import messages as m
from simulators.devices import Broker, Downlink, Link, NoAckError, SimulatedDevice
from simulators.fleet import broker_for, split
from simulators.messages import DEMENTIA, HYPERTENSION, DeviceProfile, daily_reading
from simulators.scenarios import SCENARIOS, NoCastError, pick_cast

TERMINAL = DeviceProfile("864500000000017", DeviceKind.SOS_TERMINAL, "s")


class FlakyLink(Link):
    """A link whose first `lost` uplinks vanish; the rest are acknowledged, as the gateway would."""

    def __init__(self, lost: int) -> None:
        self.lost, self.sent = lost, []  # type: list[bytes]
        self.as_alarm: list[bool] = []  # whether each went as an alarm (the alarm topic)
        self._hear: Downlink = lambda _payload: None

    async def open(self, on_downlink: Downlink) -> None:
        self._hear = on_downlink

    async def send(self, payload: bytes, qos: int, *, alarm: bool = False) -> None:
        self.sent.append(payload)
        self.as_alarm.append(alarm)
        if len(self.sent) > self.lost:
            ref = json.loads(payload)["id"]
            self._hear(
                json.dumps({"v": 1, "type": "ack", "ref": ref, "status": "received"}).encode()
            )

    async def close(self) -> None:
        pass

    async def cut(self) -> None:
        pass


async def test_a_press_is_resent_with_the_same_id_until_acknowledged() -> None:
    link = FlakyLink(lost=2)
    device = await SimulatedDevice(TERMINAL, link).connect()
    press = m.sos()
    ack = await device.press(press, timeout_s=0.05, attempts=3)
    assert ack["ref"] == press["id"]
    assert [json.loads(p)["id"] for p in link.sent] == [press["id"]] * 3


async def test_alarms_go_on_the_alarm_topic_and_everything_else_on_the_uplink() -> None:
    link = FlakyLink(lost=0)
    device = await SimulatedDevice(TERMINAL, link).connect()
    for alarm in (m.sos(), m.fall(), m.service(), m.cancel("x")):
        await device.press(alarm, timeout_s=0.05, attempts=1)
    await device.send(m.heartbeat(battery=80))
    await device.send(m.location(22.6, 114.1))
    assert link.as_alarm == [True, True, True, True, False, False]


async def test_a_press_gives_up_after_its_attempts() -> None:
    link = FlakyLink(lost=10)
    device = await SimulatedDevice(TERMINAL, link).connect()
    with pytest.raises(NoAckError):
        await device.press(m.sos(), timeout_s=0.02, attempts=2)
    assert len(link.sent) == 2


def test_every_message_a_device_sends_is_valid_protocol() -> None:
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(1)
    monitor = DeviceProfile("BP0000000001", DeviceKind.HEALTH_MONITOR, "s", (HYPERTENSION,))
    for message in (m.sos(), m.service(), m.cancel("x"), m.fall(), m.door("open"),
                    m.heartbeat(50), m.location(22.6, 114.1), daily_reading(monitor, now, rng)):  # fmt: skip
        decoded = decode_uplink(m.encode(message), now=now)
        assert getattr(decoded, "type", None) == message["type"], decoded


def test_bad_payloads_are_each_refused_for_their_reason() -> None:
    now = dt.datetime.now(dt.UTC)
    for case in m.bad_payloads(DeviceKind.SOS_TERMINAL):
        decoded = decode_uplink(case.payload, now=now)
        if case.reason == "unexpected_type":  # valid protocol; the kind of device makes it wrong
            assert decoded.type == "door"  # type: ignore[union-attr]
        else:
            assert getattr(decoded, "reason", None) == case.reason, case


def _mean_sys(profile: DeviceProfile, hour: int) -> float:
    rng = random.Random(3)
    at = dt.datetime(2026, 11, 23, hour, tzinfo=m.STREET_TZ)
    return sum(daily_reading(profile, at, rng)["bp_sys"] for _ in range(200)) / 200


def test_readings_run_higher_for_hypertension_and_in_the_morning_and_raise_no_alarm() -> None:
    plain = DeviceProfile("BP0000000001", DeviceKind.HEALTH_MONITOR, "s")
    hypertensive = DeviceProfile("BP0000000001", DeviceKind.HEALTH_MONITOR, "s", (HYPERTENSION,))
    assert _mean_sys(hypertensive, 9) > _mean_sys(plain, 9) + 10
    assert _mean_sys(plain, 9) > _mean_sys(plain, 3) + 5  # morning surge, night dip
    rng = random.Random(5)
    for hour in range(24):
        at = dt.datetime(2026, 11, 23, hour, tzinfo=m.STREET_TZ)
        for profile in (plain, hypertensive):
            findings = assess(daily_reading(profile, at, rng), {})
            assert not findings or worst(findings) is Band.NORMAL, findings


def test_cast_fits_the_scenario_or_says_what_is_missing() -> None:
    door = DeviceProfile("MC0000000001", DeviceKind.DOOR_SENSOR, "s", (DEMENTIA,), "PH03")
    other = DeviceProfile("MC0000000002", DeviceKind.DOOR_SENSOR, "s", (), "PH03")
    scenario = SCENARIOS["dementia-night-exit"]
    assert pick_cast(scenario, [other, door], random.Random(1)) == [door]
    with pytest.raises(NoCastError, match="阿尔茨海默症"):
        pick_cast(scenario, [other], random.Random(1))
    with pytest.raises(NoCastError, match="of one community"):
        pick_cast(SCENARIOS["power-cut"], [TERMINAL] * 10, random.Random(1))


def test_a_device_always_goes_to_the_same_broker_and_workers_stay_under_their_size() -> None:
    brokers = [Broker("127.0.0.1", 1), Broker("127.0.0.1", 2)]
    ids = [f"MC{n:010d}" for n in range(1000)]
    assert [broker_for(i, brokers) for i in ids] == [broker_for(i, list(brokers)) for i in ids]
    assert 400 < sum(broker_for(i, brokers).port == 1 for i in ids) < 600
    profiles = [DeviceProfile(i, DeviceKind.DOOR_SENSOR, "s") for i in ids]
    shares = split(profiles, 300)
    assert len(shares) == 4 and max(map(len, shares)) <= 300 and sum(map(len, shares)) == 1000
