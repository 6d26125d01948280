"""The fleet over worker processes, scenarios on a real Mosquitto, and the demo of `eldercare up`."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from kernel.models import Device
from simulators.fleet import FleetPlan, run_fleet
from tests.brokers import free_port
from tests.eldercare.test_up import clean_env, wait_healthy
from tests.simulators.conftest import StartSystem, System, eventually


async def _online(system: System) -> int:
    async with system.sessions() as session:
        query = select(func.count()).select_from(Device).where(Device.online.is_(True))
        return int(await session.scalar(query) or 0)


async def test_the_fleet_brings_every_bound_device_online_from_worker_processes(
    start_system: StartSystem,
) -> None:
    system = await start_system()
    profiles = system.profiles
    plan = FleetPlan(brokers=(system.connector.broker,), rate=60, per_worker=6)
    running = asyncio.create_task(asyncio.to_thread(run_fleet, profiles, plan, duration_s=15))

    async def all_online() -> list[int]:
        online = await _online(system)
        return [online] if online == len(profiles) else []

    await eventually(all_online, "every simulated device online", timeout_s=30)
    summary = await running
    assert len(summary.workers) == 3  # 15 devices, at most 6 a process
    assert (summary.connected, summary.failed) == (len(profiles), 0)
    assert summary.connect_s is not None and summary.sent >= len(profiles)
    assert all(s.stopped and s.rss_kb > 0 for s in summary.workers.values())


@pytest.mark.mosquitto
async def test_sos_and_a_last_will_on_a_real_mosquitto(start_system: StartSystem) -> None:
    system = await start_system(
        mosquitto=True, technical_offline_grace_s=1, technical_check_every_s=0.5
    )
    sos = await system.play("sos")
    offline = await system.play("device-offline", cast=[p for p in system.profiles
                                                        if p.kind == "sos_terminal"
                                                        and p not in sos.cast][:1])  # fmt: skip
    gone = offline.cast[0].device_id

    async def incidents() -> list[Any]:
        rows = await system.incident_rows()
        kinds = {(i.kind, i.device_id, i.group_key) for i in rows}
        wanted = {("sos", sos.cast[0].device_id, None), ("technical", gone, f"offline:{gone}")}
        return rows if wanted <= kinds else []

    await eventually(incidents, "the sos and the offline terminal's technical incident")


def test_up_runs_a_demo_street_of_simulated_devices(tmp_path: Path) -> None:
    port, mqtt_port = free_port(), free_port()
    command = [sys.executable, "-m", "eldercare", "up", "--port", str(port),
               "--mqtt-port", str(mqtt_port), "--seed-count", "400"]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=tmp_path, env=clean_env(tmp_path),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    database = tmp_path / "data" / "eldercare.db"
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, deadline_s=120)
        deadline, online = time.monotonic() + 60, 0
        while time.monotonic() < deadline and online < 300:
            with sqlite3.connect(database) as db:
                online = db.execute("SELECT count(*) FROM devices WHERE online").fetchone()[0]
            time.sleep(0.5)
        assert online == 300, f"{online} demo devices online"
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "Demo: 300 simulated devices online" in output
    assert "Traceback" not in output
