"""Real-life scenarios by name: which devices each needs, what they do, and what the alarm engine should make of it.

A scenario is played by real devices over the wire (`Connector`), so it exercises the whole
system: broker, gateway, alarm engine. `pick_cast` chooses suitable devices from the register's
profiles (an elder with dementia and a door sensor, say); the caller may name its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from devices.ids import DeviceKind
from simulators import messages as m
from simulators.devices import DeviceSource, LinkRefusedError, SimulatedDevice, WebSocketLink
from simulators.messages import DEMENTIA, DIABETES, HYPERTENSION, DeviceProfile


class NoCastError(Exception):
    """The register has no devices that fit the scenario."""


@dataclass
class Stage:
    """What a scenario plays on: the devices chosen, where they connect, and how fast it goes."""

    source: DeviceSource
    cast: Sequence[DeviceProfile]
    # The gateway's WebSocket, where bad-payloads also knocks as an unknown device.
    ws_url: str | None = None
    # Pause between a scenario's steps (a person's pace); tests make it short.
    pace_s: float = 1.0
    # How long a scenario that waits on silence (no-door-activity) keeps its device online.
    hold_s: float = 60.0
    heartbeat_s: float = 60.0
    say: Callable[[str], None] = lambda _line: None
    devices: list[SimulatedDevice] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)  # devices whose power was cut

    async def connect(self, profile: DeviceProfile) -> SimulatedDevice:
        device = await self.source.device(profile, lambda heard: self._heard(profile, heard))
        self.devices.append(device)
        self.say(f"{profile.device_id} connected")
        return device

    def _heard(self, profile: DeviceProfile, message: m.Message) -> None:
        self.say(f"{profile.device_id} heard {message}")

    async def pause(self, factor: float = 1.0) -> None:
        await asyncio.sleep(self.pace_s * factor)

    async def cut_power(self, device: SimulatedDevice) -> None:
        await device.cut_power()
        self.gone.add(device.device_id)
        self.say(f"{device.device_id} lost power")


Play = Callable[[Stage], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named scenario: the devices it needs and what the alarm engine should make of it."""

    name: str
    summary: str
    expects: str
    kind: DeviceKind
    play: Play
    condition: str | None = None
    living_alone: bool = False
    count: int = 1
    same_community: bool = False


async def _sos(stage: Stage) -> None:
    terminal = await stage.connect(stage.cast[0])
    press = m.sos("main")
    ack = await terminal.press(press)
    stage.say(f"{terminal.device_id} SOS {press['id']}: {ack['status']}")


async def _sos_cancelled(stage: Stage) -> None:
    terminal = await stage.connect(stage.cast[0])
    press = m.sos("pendant")
    await terminal.press(press)
    stage.say(f"{terminal.device_id} SOS {press['id']} acknowledged; the elder thinks again")
    await stage.pause(2)
    await terminal.press(m.cancel(press["id"]))
    stage.say(f"{terminal.device_id} cancelled {press['id']}")


async def _fall_at_night(stage: Stage) -> None:
    terminal = await stage.connect(stage.cast[0])
    await terminal.press(m.fall(confidence=0.87))
    stage.say(f"{terminal.device_id} detected a fall (confidence 0.87)")


async def _readings(stage: Stage, readings: Iterable[dict[str, float | int]]) -> None:
    monitor = await stage.connect(stage.cast[0])
    for reading in readings:
        await monitor.send(m.vitals(**reading))
        stage.say(f"{monitor.device_id} reading {reading}")
        await stage.pause()


async def _hypertensive_crisis(stage: Stage) -> None:
    # Rising over three measurements, the last in grade 3 (>= 180/110): a hypertensive crisis.
    await _readings(
        stage,
        [
            {"bp_sys": 166, "bp_dia": 98, "hr": 88},
            {"bp_sys": 176, "bp_dia": 106, "hr": 92},
            {"bp_sys": 192, "bp_dia": 118, "hr": 97},
        ],
    )


async def _hypoglycaemia(stage: Stage) -> None:
    # A diabetic elder's glucose falling after insulin and a missed meal: warning, then critical.
    await _readings(
        stage, [{"glucose": 4.3}, {"glucose": 3.6, "hr": 96}, {"glucose": 2.6, "hr": 104}]
    )


async def _dementia_night_exit(stage: Stage) -> None:
    door = await stage.connect(stage.cast[0])
    await door.send(m.door("open"))
    stage.say(f"{door.device_id} door open")
    await stage.pause(3)
    await door.send(m.door("closed"))
    stage.say(f"{door.device_id} door closed")


async def _no_door_activity(stage: Stage) -> None:
    door = await stage.connect(stage.cast[0])
    # The elder comes home and shuts the door; then the sensor stays online and senses nothing.
    await door.send(m.door("open"))
    await door.send(m.door("closed"))
    stage.say(f"{door.device_id} door closed; now nothing for {stage.hold_s:g} s, heartbeats only")
    await _heartbeats(stage, [door], stage.hold_s)


async def _heartbeats(stage: Stage, devices: Sequence[SimulatedDevice], hold_s: float) -> None:
    loop = asyncio.get_running_loop()
    until = loop.time() + hold_s
    while True:
        for device in devices:
            await device.send(m.heartbeat(battery=76))
        left = until - loop.time()
        if left <= 0:
            return
        await asyncio.sleep(min(stage.heartbeat_s, left))


async def _device_offline(stage: Stage) -> None:
    terminal = await stage.connect(stage.cast[0])
    await terminal.send(m.heartbeat(battery=41))
    await stage.pause()
    await stage.cut_power(terminal)


async def _power_cut(stage: Stage) -> None:
    devices = [await stage.connect(profile) for profile in stage.cast]
    for device in devices:
        await device.send(m.heartbeat(battery=88))
    await stage.pause()
    await asyncio.gather(*(stage.cut_power(device) for device in devices))
    stage.say(f"power cut: {len(devices)} devices of {stage.cast[0].community_code} dropped")


STORM_REPEATS = 20


async def _duplicate_storm(stage: Stage) -> None:
    terminal = await stage.connect(stage.cast[0])
    press = m.sos("main")
    # A terminal on a flapping link re-sends the same press over and over (QoS 1 redelivery
    # and its own retries): every copy keeps the press's id.
    for _ in range(STORM_REPEATS):
        await terminal.send(press)
    # It listens until every copy is answered, as a terminal whose retries all went out does.
    await terminal.wait_for(lambda _heard: _acks_for(terminal, press["id"]) >= STORM_REPEATS, 15)
    stage.say(f"{terminal.device_id} sent SOS {press['id']} {STORM_REPEATS} times")


def _acks_for(device: SimulatedDevice, ref: str) -> int:
    return sum(1 for h in device.heard if h.get("ref") == ref and h.get("status") == "received")


async def _bad_payloads(stage: Stage) -> None:
    device = await stage.connect(stage.cast[0])
    cases = m.bad_payloads(device.profile.kind)
    for case in cases:
        await device.send_raw(case.payload)
        stage.say(f"{device.device_id} sent a {case.reason} payload")
    await device.wait_for(lambda _heard: len(device.rejections) >= len(cases), 15)
    if stage.ws_url is not None:
        # An unknown device is refused at the door: its hello closes the socket with 4401.
        stranger = DeviceProfile("MC9999999999", DeviceKind.DOOR_SENSOR, "not-a-secret")
        with contextlib.suppress(LinkRefusedError):
            await WebSocketLink(stage.ws_url, stranger).open(lambda _payload: None)
        stage.say("an unknown device knocked on the WebSocket and was refused")
    # Still serving: the same device's next good message is acknowledged as ever.
    if device.profile.kind is DeviceKind.SOS_TERMINAL:
        await device.press(m.sos("main"))
        stage.say(f"{device.device_id} SOS after the garbage: acknowledged")


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario("sos", "An elder presses the red key.", "sos incident, P1",
                 DeviceKind.SOS_TERMINAL, _sos),
        Scenario("sos-cancelled", "SOS, then the elder presses cancel a few seconds later.",
                 "sos incident, P1, cancelled_by_elder", DeviceKind.SOS_TERMINAL, _sos_cancelled),
        Scenario("fall-at-night", "The pendant's fall detector fires (confidence 0.87).",
                 "fall incident, P1", DeviceKind.SOS_TERMINAL, _fall_at_night),
        Scenario("hypertensive-crisis", "A hypertensive elder's blood pressure climbs to 192/118.",
                 "vitals incident, P1", DeviceKind.HEALTH_MONITOR, _hypertensive_crisis,
                 condition=HYPERTENSION),
        Scenario("hypoglycaemia", "A diabetic elder's glucose falls to 2.6 mmol/L.",
                 "vitals incident, P1 (P2 at 3.6)", DeviceKind.HEALTH_MONITOR, _hypoglycaemia,
                 condition=DIABETES),
        Scenario("dementia-night-exit", "The front door of an elder with dementia opens at night.",
                 "wandering incident, P1 (at night)", DeviceKind.DOOR_SENSOR, _dementia_night_exit,
                 condition=DEMENTIA),
        Scenario("no-door-activity", "An elder living alone: the door stays shut, the sensor online.",
                 "welfare incident, P3, after the quiet hours", DeviceKind.DOOR_SENSOR,
                 _no_door_activity, living_alone=True),
        Scenario("device-offline", "A terminal loses power: the broker sends its last will.",
                 "technical incident, P4, group offline:<device> after the grace",
                 DeviceKind.SOS_TERMINAL, _device_offline),
        Scenario("power-cut", "A building loses power: its devices drop together.",
                 "one technical incident, group power:<community>", DeviceKind.SOS_TERMINAL,
                 _power_cut, count=6, same_community=True),
        Scenario("duplicate-storm", f"One SOS delivered {STORM_REPEATS} times with the same id.",
                 "one device event, one sos incident", DeviceKind.SOS_TERMINAL, _duplicate_storm),
        Scenario("bad-payloads", "Every kind of malformed message, then a good SOS.",
                 "a reject per kind (GET /api/gateway/rejects), no incident from the garbage",
                 DeviceKind.SOS_TERMINAL, _bad_payloads),
    )
}  # fmt: skip


def fits(scenario: Scenario, profile: DeviceProfile) -> bool:
    """Whether this device can play in the scenario."""
    return (
        profile.kind is scenario.kind
        and (scenario.condition is None or scenario.condition in profile.conditions)
        and (not scenario.living_alone or profile.living_alone)
    )


def pick_cast(
    scenario: Scenario,
    profiles: Iterable[DeviceProfile],
    rng: random.Random,
    exclude: frozenset[str] = frozenset(),
) -> list[DeviceProfile]:
    """Devices from the register that suit the scenario, chosen at random; NoCastError if none."""
    suitable = [p for p in profiles if p.device_id not in exclude and fits(scenario, p)]
    if not scenario.same_community:
        if len(suitable) < scenario.count:
            raise NoCastError(_missing(scenario))
        return rng.sample(suitable, scenario.count)
    by_community: dict[str | None, list[DeviceProfile]] = defaultdict(list)
    for profile in suitable:
        by_community[profile.community_code].append(profile)
    communities = [c for c, group in by_community.items() if c and len(group) >= scenario.count]
    if not communities:
        raise NoCastError(_missing(scenario))
    return rng.sample(by_community[rng.choice(sorted(communities))], scenario.count)  # type: ignore[arg-type]


def _missing(scenario: Scenario) -> str:
    wanted = scenario.kind.value
    if scenario.condition:
        wanted += f" of an elder with {scenario.condition}"
    if scenario.living_alone:
        wanted += " of an elder living alone"
    if scenario.same_community:
        wanted = f"{scenario.count} of one community: {wanted}"
    return f"scenario {scenario.name} needs a registered, bound {wanted}; the register has none"


def check_cast(scenario: Scenario, cast: Sequence[DeviceProfile]) -> None:
    """ValueError when devices named by hand cannot play the scenario."""
    if len(cast) < scenario.count:
        raise ValueError(f"{scenario.name} needs {scenario.count} devices, got {len(cast)}")
    for profile in cast:
        if profile.kind is not scenario.kind:
            raise ValueError(f"{profile.device_id} is a {profile.kind.value}, {scenario.name} "
                             f"needs a {scenario.kind.value}")  # fmt: skip


async def play(scenario: Scenario, stage: Stage) -> Stage:
    """Play the scenario; every device it used is released after (those cut stay gone)."""
    try:
        await scenario.play(stage)
    finally:
        for device in stage.devices:
            if device.device_id not in stage.gone:
                await stage.source.release(device)
    return stage
