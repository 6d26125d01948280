"""`eldercare up`: starts on the embedded defaults, seeds, answers /healthz, stops on Ctrl-C."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from signal import Handlers

import aiomqtt
import httpx
import pytest

from devices.protocol import downlink_topic, uplink_topic
from eldercare.running import read as running_system
from eldercare.simulate_cli import default_broker, default_http
from kernel.settings import Settings
from simulators.devices import Broker
from tests.conftest import free_port


async def press_sos(database: Path, mqtt_port: int) -> dict[str, object]:
    """Press SOS on a seeded terminal through the embedded broker, as the hardware would."""
    with sqlite3.connect(database) as db:
        device, secret = db.execute(
            "SELECT id, secret FROM devices WHERE kind = 'sos_terminal' LIMIT 1"
        ).fetchone()
    press = {
        "v": 1,
        "id": "press-1",
        "ts": dt.datetime.now(dt.UTC).isoformat(),
        "type": "sos",
        "button": "main",
    }
    async with aiomqtt.Client(
        "127.0.0.1", mqtt_port, username=device, password=secret, identifier=device
    ) as terminal:
        await terminal.subscribe(downlink_topic(device), qos=1)
        await terminal.publish(uplink_topic(device), json.dumps(press), qos=1)
        async with asyncio.timeout(10):
            message = await anext(terminal.messages)
    return dict(json.loads(message.payload))  # type: ignore[arg-type]


@dataclasses.dataclass
class Running:
    """An `eldercare up` child process and where it listens."""

    process: subprocess.Popen[str]
    port: int
    mqtt_port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def clean_env(tmp_path: Path) -> dict[str, str]:
    """This environment without the project's settings, with a data folder of the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELDERCARE_", "TWILIO_"))}
    env["ELDERCARE_DATA_DIR"] = str(tmp_path / "data")
    return env


def start_up(
    tmp_path: Path, seed_count: int, *more: str, sigint: Handlers | None = None
) -> Running:
    """`eldercare up` on free HTTP and MQTT ports, seeding `seed_count` elders on first start.

    `sigint`: how it finds Ctrl-C on start (SIG_IGN as a script's background job does); else as
    this test process has it.
    """
    port, mqtt_port = free_port(), free_port()
    command = [sys.executable, "-m", "eldercare", "up", "--port", str(port),
               "--mqtt-port", str(mqtt_port), "--seed-count", str(seed_count), "--no-demo", *more]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=tmp_path, env=clean_env(tmp_path),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=None if sigint is None else lambda: signal.signal(signal.SIGINT, sigint),
    )  # fmt: skip
    return Running(process, port, mqtt_port)


async def acknowledge_and_listen(database: Path, mqtt_port: int, base: str) -> dict[str, object]:
    """The terminal listens; an operator acknowledges; what does the terminal hear?"""
    with sqlite3.connect(database) as db:
        device, secret = db.execute(
            "SELECT d.id, d.secret FROM devices d JOIN incidents i ON i.device_id = d.id LIMIT 1"
        ).fetchone()
        (incident_id,) = db.execute("SELECT id FROM incidents").fetchone()
    async with aiomqtt.Client(
        "127.0.0.1", mqtt_port, username=device, password=secret, identifier=device
    ) as terminal:
        await terminal.subscribe(downlink_topic(device), qos=1)
        async with httpx.AsyncClient() as client:
            # Signed in as a demo operator with the password `up` printed and kept.
            password = (database.parent / "demo-accounts.txt").read_text().splitlines()[0]
            signed_in = await client.post(
                f"{base}/api/auth/sign-in", json={"username": "op1", "password": password}
            )
            assert signed_in.status_code == 200
            taken = await client.post(
                f"{base}/api/incidents/{incident_id}/acknowledge", json={}
            )  # the acknowledgement is the signed-in operator's
            assert taken.status_code == 200
        async with asyncio.timeout(10):
            message = await anext(terminal.messages)
    heard = dict(json.loads(message.payload))  # type: ignore[arg-type]
    assert heard["ref"] == str(incident_id)
    return heard


def interrupt(process: subprocess.Popen[str]) -> str:
    """Ctrl-C, and the output once it stopped; one that does not stop in 30 s is killed and the
    test fails with what it printed (never left running to spoil the tests after it)."""
    process.send_signal(signal.SIGINT)
    try:
        return process.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        output = process.communicate()[0]
        pytest.fail(f"eldercare up did not stop within 30 s of Ctrl-C; it printed:\n{output}")


def wait_for_incident(database: Path) -> tuple[str, int, str, str]:
    """The first incident's (kind, priority, centre, routing), once the alarm engine made it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as db:
            row = db.execute(
                "SELECT kind, priority, centre_code, routing FROM incidents"
            ).fetchone()
        if row is not None:
            return row
        time.sleep(0.1)
    raise AssertionError("no incident within 10 s of the press")


def wait_healthy(base: str, process: subprocess.Popen[str], deadline_s: float) -> dict[str, object]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"eldercare up exited early:\n{process.stdout.read() if process.stdout else ''}"
            )
        try:
            answer = httpx.get(f"{base}/healthz", timeout=2)
            if answer.status_code == 200:
                return dict(answer.json())
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError("eldercare up did not become healthy in time")


def test_up_seeds_serves_healthz_and_docs_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    running = start_up(tmp_path, seed_count=300)
    process, base, mqtt_port = running.process, running.base, running.mqtt_port
    try:
        health = wait_healthy(base, process, deadline_s=120)
        assert health["status"] == "ok"
        assert health["database"] == "ok"
        assert health["elders"] == 300
        assert health["sms"] == "outbox"
        assert httpx.get(f"{base}/openapi.json", timeout=5).json()["info"]["title"]
        assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
        centres = httpx.get(f"{base}/api/centres", timeout=5).json()
        assert len(centres) == 13
        assert (tmp_path / "data" / "eldercare.db").exists()
        ack = asyncio.run(press_sos(tmp_path / "data" / "eldercare.db", mqtt_port))
        assert (ack["type"], ack["ref"], ack["status"]) == ("ack", "press-1", "received")
        incident = wait_for_incident(tmp_path / "data" / "eldercare.db")
        assert (incident[0], incident[1]) == ("sos", 1) and incident[2] and incident[3]
        heard = asyncio.run(
            acknowledge_and_listen(tmp_path / "data" / "eldercare.db", mqtt_port, base)
        )
        assert heard["type"] == "notice"
        assert heard["text"] in {"社工正在赶来", "呼叫中心已接听，正在为您安排帮助"}
        assert heard["text"] != "社工正在赶来" or int(heard["eta_min"]) >= 2
        assert "eldercare_gateway_messages_total" in httpx.get(f"{base}/metrics", timeout=5).text
        # `eldercare simulate …` beside it finds this system's broker and address, not 1883's.
        beside = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
        assert default_broker(beside) == Broker("127.0.0.1", mqtt_port)
        assert default_http(beside) == base
    finally:
        output = interrupt(process)
    assert process.returncode == 0, output
    assert "Stopped." in output
    assert "Traceback" not in output
    assert running_system(beside) is None and not (tmp_path / "data" / "running.json").exists()


def test_second_start_does_not_seed_again(tmp_path: Path) -> None:
    outputs = []
    for _ in range(2):
        running = start_up(tmp_path, seed_count=50)
        try:
            assert wait_healthy(running.base, running.process, deadline_s=120)["elders"] == 50
        finally:
            outputs.append(interrupt(running.process))
    assert "First start" in outputs[0]
    assert "First start" not in outputs[1]


def test_up_refuses_a_port_in_use_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "eldercare", "up", "--port", str(port)],
            cwd=tmp_path, env=clean_env(tmp_path), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"HTTP port {port} on 127.0.0.1 is in use." in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_up_refuses_an_mqtt_port_in_use_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        mqtt_port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "eldercare", "up", "--port", str(free_port()),
             "--mqtt-port", str(mqtt_port)],
            cwd=tmp_path, env=clean_env(tmp_path), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"MQTT port {mqtt_port} on 127.0.0.1 is in use." in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("mqtt_from", ["option", "environment"])
def test_up_refuses_one_port_for_http_and_mqtt_before_starting_anything(
    tmp_path: Path, mqtt_from: str
) -> None:
    port = free_port()
    command = [sys.executable, "-m", "eldercare", "up", "--port", str(port)]
    env = clean_env(tmp_path)
    if mqtt_from == "option":
        command += ["--mqtt-port", str(port)]
    else:
        env["ELDERCARE_MQTT_PORT"] = str(port)
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert f"HTTP and the embedded MQTT broker cannot share port {port}." in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""  # not even the database line: nothing was started
    assert not (tmp_path / "data" / "eldercare.db").exists()


def test_a_second_up_on_the_same_port_refuses_while_the_first_is_still_starting(
    tmp_path: Path,
) -> None:
    """The port is held from the first check on, not only once the first process serves."""
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = start_up(tmp_path / "first", seed_count=20)
    try:
        assert first.process.stdout is not None
        assert first.process.stdout.readline().startswith("Database:")  # migrating comes next
        first.process.send_signal(signal.SIGSTOP)  # and stays next while the second one starts
        result = subprocess.run(
            [sys.executable, "-m", "eldercare", "up", "--port", str(first.port),
             "--mqtt-port", str(free_port()), "--seed-count", "20", "--no-demo"],
            cwd=tmp_path / "second", env=clean_env(tmp_path / "second"),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        first.process.send_signal(signal.SIGCONT)
        interrupt(first.process)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"HTTP port {first.port} on 127.0.0.1 is in use." in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("sigint", [signal.SIG_DFL, signal.SIG_IGN], ids=["heard", "ignored"])
def test_ctrl_c_during_start_up_stops_it_however_the_process_found_ctrl_c(
    tmp_path: Path, sigint: Handlers
) -> None:
    """Started as a background job of a script (Ctrl-C ignored, which Python keeps), Ctrl-C
    during start-up went unheard: the process went on to serve and never stopped."""
    running = start_up(tmp_path, 20, sigint=sigint)
    assert running.process.stdout is not None
    assert running.process.stdout.readline().startswith("Database:")
    running.process.send_signal(signal.SIGSTOP)  # held inside its start-up
    running.process.send_signal(signal.SIGCONT)
    output = interrupt(running.process)
    assert running.process.returncode == 130, output
    assert "Interrupted before start-up finished" in output
    assert "Traceback" not in output


def test_an_acknowledged_sos_survives_the_process_being_killed_right_after(tmp_path: Path) -> None:
    running = start_up(tmp_path, seed_count=20)
    process, mqtt_port = running.process, running.mqtt_port
    try:
        wait_healthy(running.base, process, deadline_s=120)
        ack = asyncio.run(press_sos(tmp_path / "data" / "eldercare.db", mqtt_port))
        process.kill()  # SIGKILL: no shutdown, no flush, as in a crash or power loss
    finally:
        process.kill()
        process.communicate(timeout=30)
    assert ack["status"] == "received"
    with sqlite3.connect(tmp_path / "data" / "eldercare.db") as db:
        recorded = db.execute(
            "SELECT type FROM device_events WHERE message_id = 'press-1'"
        ).fetchall()
    assert recorded == [("sos",)]


def test_a_gateway_process_and_a_call_centre_process_close_the_loop_between_them(
    tmp_path: Path,
) -> None:
    """`--role`: the press reaches the gateway process, the incident is made by the call centre
    process, and the worker's acknowledgement reaches the terminal through the gateway again."""
    gateway = start_up(tmp_path, 30, "--role", "gateway")
    centre = None
    try:
        wait_healthy(gateway.base, gateway.process, deadline_s=120)
        centre = start_up(tmp_path, 30, "--role", "callcenter")
        wait_healthy(centre.base, centre.process, deadline_s=60)
        # Each serves only its half.
        assert httpx.get(f"{gateway.base}/api/incidents").status_code == 404
        assert httpx.get(f"{centre.base}/api/incidents").status_code == 401
        database = tmp_path / "data" / "eldercare.db"
        ack = asyncio.run(press_sos(database, gateway.mqtt_port))
        assert ack["status"] == "received"
        kind, priority, _centre, _routing = wait_for_incident(database)
        assert (kind, priority) == ("sos", 1)
        heard = asyncio.run(acknowledge_and_listen(database, gateway.mqtt_port, centre.base))
        assert heard["type"] == "notice"
    finally:
        for running in (centre, gateway):
            if running is not None:
                output = interrupt(running.process)
                assert running.process.returncode == 0, output
    assert "Pinghu gateway is up" in output


def test_the_command_line_writes_the_data_folder_owner_only_and_tightens_an_old_one(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    old = data / "synthetic_register_old.csv"
    old.write_text("姓名,身份证号\n")
    old.chmod(0o644)
    result = subprocess.run(
        [sys.executable, "-m", "eldercare", "seed", "--count", "3"],
        cwd=tmp_path, env=clean_env(tmp_path), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "synthetic_register_old.csv was readable by others (644): now 600" in result.stderr
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.iterdir()}
    assert "eldercare.db" in modes and any(n.startswith("synthetic_register_3") for n in modes)
    assert set(modes.values()) == {0o600}, modes
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
