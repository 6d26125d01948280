"""Every scenario, played over the wire against the running system, makes the incident the rules promise."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any

import pytest

from simulators.messages import bad_payloads
from simulators.scenarios import SCENARIOS, STORM_REPEATS, play
from tests.simulators.conftest import (
    DEMENTIA_DOOR,
    HYPERTENSIVE_DOOR,
    StartSystem,
    System,
    eventually,
)


def of_kind(incidents: list[dict[str, Any]], kind: str, **fields: Any) -> list[dict[str, Any]]:
    return [
        i for i in incidents
        if i["kind"] == kind and all(i[name] == value for name, value in fields.items())
    ]  # fmt: skip


async def test_sos_opens_a_p1_sos_incident_and_the_terminal_hears_its_ack(
    start_system: StartSystem,
) -> None:
    system = await start_system()
    stage = await system.play("sos")
    (terminal,) = stage.devices
    assert [m["status"] for m in terminal.heard if m["type"] == "ack"] == ["received"]

    async def sos() -> list[dict[str, Any]]:
        return of_kind(await system.incidents(), "sos", device_id=terminal.device_id)

    (incident,) = await eventually(sos, "an sos incident")
    assert incident["priority"] == 1 and not incident["cancelled_by_elder"]


@pytest.mark.parametrize(
    "mosquitto",
    [
        pytest.param(False, id="embedded"),
        pytest.param(True, id="mosquitto", marks=pytest.mark.mosquitto),
    ],
)
@pytest.mark.parametrize("alarm_topic", [True, False], ids=["alarm-topic", "old-terminal-uplink"])
async def test_an_sos_on_the_alarm_topic_or_an_old_terminals_uplink_opens_its_incident(
    start_system: StartSystem, mosquitto: bool, alarm_topic: bool
) -> None:
    system = await start_system(mosquitto=mosquitto)
    system.connector = dataclasses.replace(system.connector, alarm_topic=alarm_topic)
    stage = await system.play("sos")
    (terminal,) = stage.devices
    assert [m["status"] for m in terminal.heard if m["type"] == "ack"] == ["received"]

    async def sos() -> list[dict[str, Any]]:
        return of_kind(await system.incidents(), "sos", device_id=terminal.device_id)

    (incident,) = await eventually(sos, "an sos incident")
    assert incident["priority"] == 1


async def test_sos_over_websocket_opens_the_same_incident(start_system: StartSystem) -> None:
    system = await start_system()
    system.connector = type(system.connector)(
        system.connector.broker, system.ws_url, use_websocket=True
    )
    stage = await system.play("sos")

    async def sos() -> list[dict[str, Any]]:
        return of_kind(await system.incidents(), "sos", device_id=stage.cast[0].device_id)

    (incident,) = await eventually(sos, "an sos incident from a WebSocket terminal")
    assert incident["priority"] == 1


async def test_sos_cancelled_marks_the_same_incident_cancelled_by_the_elder(
    start_system: StartSystem,
) -> None:
    system = await start_system()
    stage = await system.play("sos-cancelled")
    device = stage.cast[0].device_id

    async def cancelled() -> list[dict[str, Any]]:
        return of_kind(await system.incidents(), "sos", device_id=device, cancelled_by_elder=True)

    (incident,) = await eventually(cancelled, "the sos marked cancelled_by_elder")
    assert incident["priority"] == 1
    assert len(of_kind(await system.incidents(), "sos")) == 1  # the cancel opened nothing new


async def test_fall_at_night_opens_a_p1_fall_incident(start_system: StartSystem) -> None:
    system = await start_system()
    stage = await system.play("fall-at-night")

    async def falls() -> list[dict[str, Any]]:
        return of_kind(await system.incidents(), "fall", device_id=stage.cast[0].device_id)

    (incident,) = await eventually(falls, "a fall incident")
    assert incident["priority"] == 1


@pytest.mark.parametrize("name", ["hypertensive-crisis", "hypoglycaemia"])
async def test_dangerous_readings_open_one_p1_vitals_incident(
    start_system: StartSystem, name: str
) -> None:
    system = await start_system()
    stage = await system.play(name)
    monitor = stage.cast[0]
    assert SCENARIOS[name].condition in monitor.conditions

    async def critical() -> list[dict[str, Any]]:
        found = of_kind(await system.incidents(), "vitals", device_id=monitor.device_id)
        return [i for i in found if i["priority"] == 1]

    await eventually(critical, f"a P1 vitals incident after {name}")
    assert len(of_kind(await system.incidents(), "vitals")) == 1  # one per elder, raised to P1


async def test_dementia_night_exit_opens_a_wandering_alarm(start_system: StartSystem) -> None:
    system = await start_system(night_starts="00:00", night_ends="23:59")  # now is night
    stage = await system.play("dementia-night-exit")
    assert stage.cast[0].device_id == DEMENTIA_DOOR  # the only door of an elder with dementia

    async def wandering() -> list[dict[str, Any]]:
        return of_kind(await system.incidents(), "wandering", device_id=DEMENTIA_DOOR)

    (incident,) = await eventually(wandering, "a wandering incident")
    assert incident["priority"] == 1


async def test_no_door_activity_of_an_elder_living_alone_opens_a_welfare_check(
    start_system: StartSystem,
) -> None:
    system = await start_system(
        welfare_quiet_hours=0.001, welfare_check_every_s=1,
        night_starts="23:59", night_ends="00:00",  # all day is day
    )  # fmt: skip
    elder = await system.elder_of(HYPERTENSIVE_DOOR)
    scenario = SCENARIOS["no-door-activity"]
    stage = system.stage("no-door-activity", hold_s=60, heartbeat_s=1)
    assert stage.cast[0].device_id == HYPERTENSIVE_DOOR  # the only door of an elder living alone
    holding = asyncio.create_task(play(scenario, stage))
    try:

        async def welfare() -> list[dict[str, Any]]:
            return of_kind(await system.incidents(), "welfare", elder_id=elder)

        (incident,) = await eventually(welfare, "a welfare incident", timeout_s=40)
        assert incident["priority"] == 3
    finally:
        holding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await holding


async def _technical(system: System, group_key: str) -> list[Any]:
    return [i for i in await system.incident_rows() if i.group_key == group_key]


async def test_device_offline_opens_a_p4_technical_incident_after_the_grace(
    start_system: StartSystem,
) -> None:
    system = await start_system(technical_offline_grace_s=1, technical_check_every_s=0.5)
    stage = await system.play("device-offline")
    device = stage.cast[0].device_id
    assert stage.gone == {device}

    (incident,) = await eventually(
        lambda: _technical(system, f"offline:{device}"), "a technical incident for the device"
    )
    assert (incident.kind, incident.priority) == ("technical", 4)


async def test_power_cut_opens_one_technical_incident_for_the_community(
    start_system: StartSystem,
) -> None:
    grace_s = 3
    system = await start_system(
        technical_offline_grace_s=grace_s,
        technical_check_every_s=0.5,
        power_cut_min_devices=5,
        power_cut_window_s=120,
    )
    stage = await system.play("power-cut")
    community = stage.cast[0].community_code
    assert len(stage.gone) == SCENARIOS["power-cut"].count >= 5
    assert {p.community_code for p in stage.cast} == {community}

    (incident,) = await eventually(
        lambda: _technical(system, f"power:{community}"), "one power-cut incident"
    )
    assert (incident.kind, incident.priority) == ("technical", 4)
    # Past every device's own grace, the cut is still one incident, not one per device.
    await asyncio.sleep(grace_s + 2)
    technical = [i for i in await system.incident_rows() if i.kind == "technical"]
    assert [i.group_key for i in technical] == [f"power:{community}"]


async def test_duplicate_storm_is_one_event_and_one_incident(start_system: StartSystem) -> None:
    system = await start_system()
    stage = await system.play("duplicate-storm")
    (terminal,) = stage.devices
    press_id = terminal.sent[0]["id"]
    assert [m["id"] for m in terminal.sent] == [press_id] * STORM_REPEATS

    async def sos() -> list[dict[str, Any]]:
        return of_kind(await system.incidents(), "sos", device_id=terminal.device_id)

    await eventually(sos, "the storm's sos incident")
    acks = await eventually(
        lambda: _acks_of(terminal.heard, press_id, STORM_REPEATS), "an ack for every copy"
    )
    assert len(acks) == STORM_REPEATS  # every copy is answered, so the terminal stops resending
    assert await system.events_with_id(terminal.device_id, press_id) == 1
    assert len(of_kind(await system.incidents(), "sos")) == 1


async def _acks_of(heard: Any, ref: str, wanted: int) -> list[Any]:
    acks = [m for m in heard if m.get("ref") == ref and m.get("status") == "received"]
    return acks if len(acks) >= wanted else []


async def test_bad_payloads_are_each_rejected_with_their_reason_and_the_gateway_keeps_serving(
    start_system: StartSystem,
) -> None:
    system = await start_system()
    stage = await system.play("bad-payloads")
    (terminal,) = stage.devices
    wanted = {case.reason for case in bad_payloads(terminal.profile.kind)}

    async def reasons() -> list[set[str]]:
        found = {r["reason"] for r in await system.rejects()}
        return [found] if wanted | {"unknown_device"} <= found else []

    await eventually(reasons, "a reject for every kind of bad payload")
    told = {m["reason"] for m in terminal.rejections}
    assert told == wanted  # the device was told each time, with the reason
    by_device = [r for r in await system.rejects() if r["device_id"] == terminal.device_id]
    assert len(by_device) == len(wanted)
    # The garbage raised nothing; the good SOS after it did, and was acknowledged.
    assert [m["status"] for m in terminal.heard if m.get("status") == "received"] == ["received"]
    (incident,) = await eventually(system.incidents, "the SOS sent after the garbage")
    assert incident["kind"] == "sos"
