"""Device credentials: Mosquitto accepts the password hashes and enforces the ACL; the CLI rotates.

The broker tests run a real Mosquitto (ELDERCARE_TEST_MOSQUITTO_BIN, else `mosquitto` on PATH)
on a free loopback port with files written by write_mosquitto_config, and talk to it with
aiomqtt like the gateway and a terminal would. They skip without the binary, or fail where
ELDERCARE_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import stat
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiomqtt
import pytest
import typer
from rich.console import Console
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from callcenter.register import columns
from devices.ids import DeviceKind
from devices.protocol import alarm_topic, downlink_topic, uplink_topic
from eldercare import devices_cli
from eldercare.devices_cli import broker_config, devices_app
from eldercare.jobs import import_register_file
from gateway.credentials.service import (
    BridgeLogin,
    edge_bridge_name,
    issue_secret,
    mosquitto_acl,
    mosquitto_password_hash,
    write_mosquitto_config,
)
from kernel import migrate
from kernel.database import create_engine, session_factory
from kernel.models import AuditEntry, Device
from kernel.settings import get_settings
from tests.brokers import MosquittoProcess, free_port
from tests.factories import AS_OF, create_imei, create_register_csv, create_row

GATEWAY = "eldercare-gateway"
GATEWAY_ALARMS = "eldercare-gateway-alarms"  # its alarm lane's login (gateway.mqtt)
# How long a message that the broker should deliver may take on a loaded CI machine.
DELIVERY_TIMEOUT_S = 5.0


# --- the password hash -------------------------------------------------------------------------


def test_hash_matches_what_mosquitto_passwd_wrote_for_the_same_salt() -> None:
    # Written by `mosquitto_passwd -b pwfile alice secret1` (Mosquitto 2.0.11).
    written = (
        "$7$101$agwG1j3X4D4XUqmy$ZCGllbFSrQfogi2ntdAMboQXbFsWDqfI+oxsChxR3HAZTKL7850NRosGKhLbL0y"
        "WopwP3Mahq6F8cYYZm/K+Qg=="
    )
    salt = base64.b64decode(written.split("$")[3])
    assert mosquitto_password_hash("secret1", salt=salt) == written


def test_each_hash_has_its_own_twelve_byte_salt_and_a_sha512_sized_digest() -> None:
    first, second = mosquitto_password_hash("same"), mosquitto_password_hash("same")
    assert first != second
    _, kind, iterations, salt, digest = first.split("$")
    assert (kind, iterations) == ("7", "101")
    assert len(base64.b64decode(salt)) == 12
    assert len(base64.b64decode(digest)) == 64


def test_a_salt_mosquitto_would_reject_is_refused() -> None:
    with pytest.raises(ValueError, match="12-byte"):
        mosquitto_password_hash("secret", salt=b"short")


def test_acl_grants_each_device_only_its_own_topics_by_username() -> None:
    lines = mosquitto_acl(GATEWAY).splitlines()
    assert "pattern write eldercare/v1/up/%u" in lines
    assert "pattern write eldercare/v1/alarm/%u" in lines
    assert "pattern read eldercare/v1/down/%u" in lines
    gateway_block = lines[lines.index(f"user {GATEWAY}") : lines.index(f"user {GATEWAY_ALARMS}")]
    assert [line for line in gateway_block[1:] if line and not line.startswith("#")] == [
        "topic read eldercare/v1/up/#",
        "topic write eldercare/v1/down/#",
        "topic readwrite eldercare/v1/gateways/#",
    ]
    assert lines[lines.index(f"user {GATEWAY_ALARMS}") + 1 :] == [
        "topic read eldercare/v1/alarm/#",
        "topic write eldercare/v1/down/#",
    ]


def test_a_username_that_would_break_the_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be a Mosquitto username"):
        write_mosquitto_config(tmp_path, [("dev:ice", "pw")], GATEWAY, "gw", 1883)


def test_password_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    files = write_mosquitto_config(tmp_path / "broker", [("BP0000000001", "s")], GATEWAY, "g", 1883)
    assert stat.S_IMODE(files.passwords.stat().st_mode) == 0o600
    users = [line.split(":")[0] for line in files.passwords.read_text().splitlines()]
    assert users == ["BP0000000001", GATEWAY, GATEWAY_ALARMS]
    config = files.config.read_text().splitlines()
    assert "allow_anonymous false" in config
    assert "listener 1883 127.0.0.1" in config
    assert f"password_file {files.passwords}" in config
    # Sessions and queued readings survive a broker restart (docs/operations.md, Broker faults).
    assert "persistence true" in config
    assert f"persistence_location {files.config.parent}/" in config
    assert "autosave_interval 30" in config


# --- a real Mosquitto --------------------------------------------------------------------------


@dataclass(frozen=True)
class Broker:
    port: int
    gateway_password: str
    secrets: dict[str, str]


DEVICE_A = create_imei()
DEVICE_B = "BP0000000042"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """Mosquitto admitting devices A and B and the gateway, with the files written here."""
    device_secrets = {DEVICE_A: issue_secret(), DEVICE_B: issue_secret()}
    gateway_password = issue_secret()
    port = free_port()
    files = write_mosquitto_config(
        tmp_path / "mosquitto", list(device_secrets.items()), GATEWAY, gateway_password, port
    )
    process = MosquittoProcess(files.config, port, tmp_path / "mosquitto.log")
    process.start()
    try:
        yield Broker(port, gateway_password, device_secrets)
    finally:
        process.stop()


@asynccontextmanager
async def _connected(broker: Broker, username: str, password: str) -> AsyncIterator[aiomqtt.Client]:
    # Client id = username, as the protocol requires of devices.
    client = aiomqtt.Client(
        "127.0.0.1", broker.port, username=username, password=password, identifier=username
    )
    async with client:
        yield client


def _as_device(broker: Broker, device_id: str) -> AbstractAsyncContextManager[aiomqtt.Client]:
    return _connected(broker, device_id, broker.secrets[device_id])


async def _next_message(client: aiomqtt.Client) -> aiomqtt.Message:
    async with asyncio.timeout(DELIVERY_TIMEOUT_S):
        return await anext(aiter(client.messages))


@pytest.mark.mosquitto
async def test_device_publishes_to_its_uplink_and_the_gateway_receives_it(broker: Broker) -> None:
    async with (
        _connected(broker, GATEWAY, broker.gateway_password) as gateway,
        _as_device(broker, DEVICE_A) as device,
    ):
        await gateway.subscribe("$share/gateways/eldercare/v1/up/#", qos=1)
        await device.publish(uplink_topic(DEVICE_A), b'{"v":1,"type":"sos"}', qos=1)
        message = await _next_message(gateway)
    assert message.topic.value == uplink_topic(DEVICE_A)
    assert message.payload == b'{"v":1,"type":"sos"}'


@pytest.mark.mosquitto
@pytest.mark.parametrize("who", [DEVICE_A, "BP0000009999"], ids=["wrong-secret", "unregistered"])
async def test_a_wrong_login_is_refused_as_not_authorised(broker: Broker, who: str) -> None:
    with pytest.raises(aiomqtt.MqttCodeError) as refused:
        async with _connected(broker, who, "not-the-secret"):
            pass
    # paho reports MQTT 3.1.1's CONNACK 5 as the MQTT 5 reason code 135.
    assert getattr(refused.value.rc, "value", refused.value.rc) in (5, 135)
    assert "authori" in str(refused.value).lower()


@pytest.mark.mosquitto
async def test_a_device_cannot_publish_as_another_device(broker: Broker) -> None:
    async with (
        _connected(broker, GATEWAY, broker.gateway_password) as gateway,
        _as_device(broker, DEVICE_A) as device,
    ):
        await gateway.subscribe("eldercare/v1/up/#", qos=1)
        await device.publish(uplink_topic(DEVICE_B), b"forged", qos=1)
        # Sent after the forgery on the same connection: had the forgery passed, it came first.
        await device.publish(uplink_topic(DEVICE_A), b"own", qos=1)
        message = await _next_message(gateway)
    assert (message.topic.value, message.payload) == (uplink_topic(DEVICE_A), b"own")


@pytest.mark.mosquitto
async def test_a_device_cannot_publish_on_another_devices_alarm_topic(broker: Broker) -> None:
    async with (
        _connected(broker, GATEWAY_ALARMS, broker.gateway_password) as alarms,
        _as_device(broker, DEVICE_A) as device,
    ):
        await alarms.subscribe("$share/gateways/eldercare/v1/alarm/+", qos=1)
        await device.publish(alarm_topic(DEVICE_B), b"forged", qos=1)
        # Sent after the forgery on the same connection: had the forgery passed, it came first.
        await device.publish(alarm_topic(DEVICE_A), b"own", qos=1)
        message = await _next_message(alarms)
    assert (message.topic.value, message.payload) == (alarm_topic(DEVICE_A), b"own")


@pytest.mark.mosquitto
async def test_the_gateway_reads_no_alarm_and_its_alarm_lane_no_uplink(broker: Broker) -> None:
    """Each lane's login reads its own topics only (the ACL's two gateway blocks)."""
    async with (
        _connected(broker, GATEWAY, broker.gateway_password) as uplinks,
        _connected(broker, GATEWAY_ALARMS, broker.gateway_password) as alarms,
        _as_device(broker, DEVICE_A) as device,
    ):
        await uplinks.subscribe("eldercare/v1/+/+", qos=1)
        await alarms.subscribe("eldercare/v1/+/+", qos=1)
        await device.publish(alarm_topic(DEVICE_A), b"alarm", qos=1)
        await device.publish(uplink_topic(DEVICE_A), b"reading", qos=1)
        heard_by_uplinks = await _next_message(uplinks)
        heard_by_alarms = await _next_message(alarms)
    assert (heard_by_uplinks.topic.value, heard_by_uplinks.payload) == (
        uplink_topic(DEVICE_A),
        b"reading",
    )
    assert (heard_by_alarms.topic.value, heard_by_alarms.payload) == (
        alarm_topic(DEVICE_A),
        b"alarm",
    )


@pytest.mark.mosquitto
async def test_a_device_reads_its_own_downlink_but_not_another_devices(broker: Broker) -> None:
    async with (
        _connected(broker, GATEWAY, broker.gateway_password) as gateway,
        _as_device(broker, DEVICE_A) as device_a,
        _as_device(broker, DEVICE_B) as device_b,
    ):
        await device_a.subscribe(downlink_topic(DEVICE_B), qos=1)
        await device_a.subscribe(downlink_topic(DEVICE_A), qos=1)
        await device_b.subscribe(downlink_topic(DEVICE_B), qos=1)
        await gateway.publish(downlink_topic(DEVICE_B), b"for B", qos=1)
        await gateway.publish(downlink_topic(DEVICE_A), b"for A", qos=1)
        seen_by_b = await _next_message(device_b)
        seen_by_a = await _next_message(device_a)
    # B got its message, so it was published; A, subscribed to it too, got only its own.
    assert (seen_by_b.topic.value, seen_by_b.payload) == (downlink_topic(DEVICE_B), b"for B")
    assert (seen_by_a.topic.value, seen_by_a.payload) == (downlink_topic(DEVICE_A), b"for A")


# --- the command line --------------------------------------------------------------------------


def _cli() -> typer.Typer:
    """The commands as the composition root (eldercare/cli.py) mounts them."""
    app = typer.Typer()
    app.add_typer(devices_app, name="devices")
    app.command("broker-config")(broker_config)
    return app


@pytest.fixture
def register_url(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A database holding three imported elders and their devices, as the process settings."""
    monkeypatch.chdir(tmp_path)  # no developer's .env
    for name in ("ELDERCARE_DATABASE_URL", "ELDERCARE_MQTT_GATEWAY_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ELDERCARE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ELDERCARE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    # Wide enough that rich wraps no cell: the tests look for whole ids and names.
    monkeypatch.setattr(devices_cli, "console", Console(width=200))
    rows = [
        create_row(**{columns.NAME: "张桂兰"}),
        create_row(**{columns.NAME: "陈建国"}),
        create_row(
            **{
                columns.NAME: "刘淑珍",
                columns.COMMUNITY: "平湖社区",
                columns.ADDRESS: "深圳市龙岗区平湖街道平湖社区平湖大街2号3栋201",
                columns.LONGITUDE: "114.126800",
                columns.LATITUDE: "22.687500",
            }
        ),
    ]
    path = create_register_csv(tmp_path / "register.csv", rows)
    migrate.upgrade(database_url)
    asyncio.run(_import_and_set_states(database_url, path))
    yield database_url
    get_settings.cache_clear()


async def _import_and_set_states(url: str, path: Path) -> None:
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        report = await import_register_file(sessions, path, as_of=AS_OF, actor="test")
        assert report.summary.imported == 3, report.issues
        async with sessions() as session, session.begin():
            # Every monitor online with a full battery, but one terminal online with 9%.
            await session.execute(
                update(Device)
                .where(Device.kind == DeviceKind.HEALTH_MONITOR)
                .values(online=True, battery=95)
            )
            first_terminal = await session.scalar(
                select(Device.id).where(Device.kind == DeviceKind.SOS_TERMINAL).order_by(Device.id)
            )
            await session.execute(
                update(Device).where(Device.id == first_terminal).values(online=True, battery=9)
            )
    finally:
        await engine.dispose()


T = TypeVar("T")


def _read(url: str, query: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                return await query(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _stored_device(url: str, device_id: str) -> Device:
    device = _read(url, lambda session: session.get(Device, device_id))
    assert device is not None
    return device


def _rotations(url: str) -> list[AuditEntry]:
    statement = select(AuditEntry).where(AuditEntry.action == "device.secret_rotated")
    return list(_read(url, lambda session: session.scalars(statement)))


def _device_ids(url: str) -> list[str]:
    return list(_read(url, lambda session: session.scalars(select(Device.id))))


def _ids_shown(output: str, device_ids: list[str]) -> set[str]:
    return {device_id for device_id in device_ids if device_id in output}


def test_devices_list_shows_every_device_with_its_elder_and_the_total(register_url: str) -> None:
    result = CliRunner().invoke(_cli(), ["devices", "list"])
    assert result.exit_code == 0, result.output
    ids = _device_ids(register_url)
    assert len(ids) == 6
    assert _ids_shown(result.output, ids) == set(ids)
    assert "张桂兰" in result.output and "刘淑珍" in result.output
    assert "PH01" in result.output and "PH03" in result.output
    assert "Total: 6" in result.output


def test_devices_list_filters_offline_low_battery_and_community(register_url: str) -> None:
    ids = _device_ids(register_url)
    runner = CliRunner()
    offline = runner.invoke(_cli(), ["devices", "list", "--offline"])
    low = runner.invoke(_cli(), ["devices", "list", "--low-battery", "20"])
    ph01 = runner.invoke(_cli(), ["devices", "list", "--community", "PH01"])
    limited = runner.invoke(_cli(), ["devices", "list", "--limit", "2"])
    assert [r.exit_code for r in (offline, low, ph01, limited)] == [0, 0, 0, 0]
    assert "Total: 2" in offline.output  # two of the three terminals were never seen
    assert all(device_id.isdigit() for device_id in _ids_shown(offline.output, ids))
    assert len(_ids_shown(low.output, ids)) == 1 and "9%" in low.output
    assert "Total: 2" in ph01.output and "刘淑珍" in ph01.output and "张桂兰" not in ph01.output
    assert len(_ids_shown(limited.output, ids)) == 2 and "2 of 6 devices" in limited.output


def test_credentials_rotate_issues_a_new_secret_and_audits_it_without_the_secret(
    register_url: str,
) -> None:
    device_id = next(i for i in _device_ids(register_url) if i.startswith("BP"))
    before = _stored_device(register_url, device_id)

    shown = CliRunner().invoke(_cli(), ["devices", "credentials", device_id])
    assert shown.exit_code == 0, shown.output
    assert before.secret in shown.output
    assert f"eldercare/v1/up/{device_id}" in shown.output
    assert f"eldercare/v1/down/{device_id}" in shown.output

    rotated = CliRunner().invoke(_cli(), ["devices", "credentials", device_id, "--rotate"])
    assert rotated.exit_code == 0, rotated.output
    after = _stored_device(register_url, device_id)
    audit_entries = _rotations(register_url)
    assert after.secret != before.secret
    assert after.secret in rotated.output and before.secret not in rotated.output
    assert after.secret_issued_at > before.secret_issued_at
    assert len(audit_entries) == 1
    entry = audit_entries[0]
    assert (entry.subject_type, entry.subject_id) == ("device", device_id)
    assert before.secret not in repr(entry.detail) and after.secret not in repr(entry.detail)


def test_credentials_of_an_unknown_device_is_a_clear_error(register_url: str) -> None:
    result = CliRunner().invoke(_cli(), ["devices", "credentials", "BP9999999999", "--rotate"])
    assert result.exit_code == 2
    assert "No device 'BP9999999999' is registered" in result.output
    assert _rotations(register_url) == []


def test_broker_config_writes_a_login_for_every_device_and_the_gateway(
    register_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELDERCARE_MQTT_GATEWAY_PASSWORD", "gateway-pw")
    out = tmp_path / "mosquitto"
    result = CliRunner().invoke(_cli(), ["broker-config", "--out", str(out), "--port", "18883"])
    assert result.exit_code == 0, result.output
    users = [line.split(":")[0] for line in (out / "passwords").read_text().splitlines()]
    assert sorted(users) == sorted([*_device_ids(register_url), GATEWAY, GATEWAY_ALARMS])
    assert "gateway-pw" not in result.output
    assert f"mosquitto -c {(out / 'mosquitto.conf').resolve()}" in result.output.replace("\n", "")


def test_broker_config_shows_a_generated_gateway_password_once_and_stores_its_hash(
    register_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "mosquitto"
    result = CliRunner().invoke(_cli(), ["broker-config", "--out", str(out)])
    assert result.exit_code == 0, result.output
    shown = result.output.split("Gateway password (shown once, stored only as a hash): ")[1]
    password = shown.split()[0]
    stored = dict(line.split(":", 1) for line in (out / "passwords").read_text().splitlines())
    salt = base64.b64decode(stored[GATEWAY].split("$")[3])
    assert mosquitto_password_hash(password, salt=salt) == stored[GATEWAY]


@pytest.mark.mosquitto
async def test_an_edge_broker_bridges_its_devices_to_the_core_and_back(tmp_path: Path) -> None:
    """More devices than one Mosquitto holds: edges carry them, the core carries the gateway."""
    device_secrets = {DEVICE_A: issue_secret()}
    gateway_password, bridge_password = issue_secret(), issue_secret()
    core_port, edge_port = free_port(), free_port()
    core_files = write_mosquitto_config(
        tmp_path / "core", [], GATEWAY, gateway_password, core_port,
        bridge_username="eldercare-bridge", bridge_password=bridge_password,
    )  # fmt: skip
    edge_files = write_mosquitto_config(
        tmp_path / "edge", list(device_secrets.items()), GATEWAY, gateway_password, edge_port,
        bridge_to=BridgeLogin("127.0.0.1", core_port, "eldercare-bridge", bridge_password),
    )  # fmt: skip
    assert stat.S_IMODE(edge_files.config.stat().st_mode) == 0o600  # it holds a password
    core = MosquittoProcess(core_files.config, core_port, tmp_path / "core.log")
    edge = MosquittoProcess(edge_files.config, edge_port, tmp_path / "edge.log")
    core.start()
    edge.start()
    try:
        core_broker = Broker(core_port, gateway_password, {})
        edge_broker = Broker(edge_port, gateway_password, device_secrets)
        async with _connected(core_broker, GATEWAY, gateway_password) as gateway:
            await gateway.subscribe("$share/gateways/eldercare/v1/up/#", qos=1)
            async with _as_device(edge_broker, DEVICE_A) as device:
                await device.subscribe(downlink_topic(DEVICE_A), qos=1)
                # The bridge connects a moment after the edge starts: press until it carries.
                async with asyncio.timeout(10):
                    while True:
                        await device.publish(uplink_topic(DEVICE_A), b"sos", qos=1)
                        try:
                            async with asyncio.timeout(0.5):
                                up = await anext(aiter(gateway.messages))
                            break
                        except TimeoutError:
                            continue
                assert (up.topic.value, up.payload) == (uplink_topic(DEVICE_A), b"sos")
                await gateway.publish(downlink_topic(DEVICE_A), b"ack", qos=1)
                down = await _next_message(device)
                # Alarms cross on a bridge connection of their own, to the alarm lane's login.
                async with _connected(core_broker, GATEWAY_ALARMS, gateway_password) as alarms:
                    await alarms.subscribe("$share/gateways/eldercare/v1/alarm/+", qos=1)
                    async with asyncio.timeout(10):
                        while True:
                            await device.publish(alarm_topic(DEVICE_A), b"alarm", qos=1)
                            try:
                                async with asyncio.timeout(0.5):
                                    alarm = await anext(aiter(alarms.messages))
                                break
                            except TimeoutError:
                                continue
        assert (down.topic.value, down.payload) == (downlink_topic(DEVICE_A), b"ack")
        assert (alarm.topic.value, alarm.payload) == (alarm_topic(DEVICE_A), b"alarm")
        bridges = [line for line in edge_files.config.read_text().splitlines()
                   if line.startswith("connection ")]  # fmt: skip
        assert len(bridges) == 2 and bridges[1] == bridges[0] + "-alarms"
    finally:
        edge.stop()
        core.stop()


def test_two_edges_on_one_port_on_two_hosts_bridge_under_different_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The bridge's client id on the core: shared, the two edges would throw each other off.
    names = set()
    for host in ("edge-a.pinghu", "edge-b.pinghu"):
        monkeypatch.setattr(socket, "gethostname", lambda host=host: host)
        names.add(edge_bridge_name(1883))
    assert len(names) == 2
    assert all(name.startswith("eldercare-edge-") and name.endswith("-1883") for name in names)
