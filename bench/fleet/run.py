"""Fleet benchmark: the whole register's devices as MQTT clients, on real Mosquittos and on the embedded broker.

  (a) Mosquitto: the fleet spread by device id over `--brokers` Mosquitto processes (one
      process holds at most ~19,900 connections here), configured from `eldercare
      broker-config`; connect time, then `--hold` seconds of normal traffic (rate 1);
      RSS and CPU of every fleet worker and every broker.
  (b) Embedded: `eldercare up --no-demo` on the same register, `--embedded-count` devices on
      its amqtt broker; connect time and the process's RSS and CPU.
Figures are printed; nothing is asserted. No gateway reads the Mosquittos in (a): it measures
what the devices and brokers cost (docs/simulators.md).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiomqtt

from bench.common import event_loop_lag, free_port, histogram, lag_quantile, quantile
from devices.protocol import alarm_topic, downlink_topic, uplink_topic
from eldercare.simulate_cli import read_profiles
from kernel.database import create_engine, session_factory
from simulators.devices import Broker
from simulators.fleet import FleetPlan, FleetSummary, run_fleet
from simulators.messages import DeviceProfile

FULL_REGISTER = 16_884
BRIDGE_USER = "eldercare-bridge"
# Long enough to connect the fleet (~25 s), let it settle, and time the presses.
HOLD_WITH_GATEWAY_S = 120.0
# What `eldercare up` measures of itself over the presses: an alarm's wait for SQLite's writer
# and its own write (the loop's lag is `event_loop_lag`).
INSIDE = ("eldercare_gateway_alarm_turn_wait_seconds", "eldercare_gateway_alarm_write_seconds")


def environment(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELDERCARE_")}
    return {**env, "ELDERCARE_DATA_DIR": str(data), "ELDERCARE_MQTT_GATEWAY_PASSWORD": "bench-gw",
            "ELDERCARE_MQTT_BRIDGE_PASSWORD": "bench-bridge"}  # fmt: skip


def eldercare(data: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "eldercare", *args], check=True, env=environment(data),
                   cwd=data, stdout=subprocess.DEVNULL)  # fmt: skip


def profiles_of(data: Path) -> list[DeviceProfile]:
    async def read() -> list[DeviceProfile]:
        engine = create_engine(f"sqlite+aiosqlite:///{data / 'eldercare.db'}")
        try:
            return await read_profiles(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def proc_figures(pid: int) -> tuple[float, float]:
    """(RSS MB, CPU seconds) of a process."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss / 1024, (int(fields[11]) + int(fields[12])) / ticks


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU ticks of the whole machine so far, every core (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(n) for n in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


def mosquittos(data: Path, count: int) -> list[tuple[subprocess.Popen[bytes], int]]:
    """`count` Mosquittos, each with the register's passwords and ACL, on free ports."""
    binary = "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else "mosquitto"
    eldercare(data, "broker-config", "--out", str(data / "mosquitto"), "--port", "1")
    template = (data / "mosquitto" / "mosquitto.conf").read_text()
    running = []
    for index in range(count):
        port = free_port()
        config = data / "mosquitto" / f"broker-{index}.conf"
        # A persistence folder each: two brokers saving one mosquitto.db renamed each other's
        # new file away, and Mosquitto 2.0.21 aborted on the failed save ("double free").
        store = (data / "mosquitto" / f"store-{index}").resolve()
        store.mkdir()
        shared = f"persistence_location {store.parent}/"
        assert shared in template, "broker-config's persistence line changed"
        config.write_text(
            template.replace("listener 1 ", f"listener {port} ").replace(
                shared, f"persistence_location {store}/"
            )
        )
        log = (data / f"mosquitto-{index}.log").open("wb")
        process = subprocess.Popen(
            [binary, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        running.append((process, port))
    time.sleep(1.0)
    return running


def report(title: str, summary: FleetSummary, plan: FleetPlan) -> None:
    connect = summary.connect_s
    print(f"\n== {title}: {summary.connected:,} of {summary.devices:,} connected, "
          f"{summary.failed:,} failed, over {len(plan.brokers)} broker(s)")  # fmt: skip
    print(f"   connect all: {connect:.1f} s" if connect else "   connect: not finished")
    for index, s in sorted(summary.workers.items()):
        steady = summary.steady_cpu_percent(s)
        print(f"   worker {index}: {s.devices:,} devices, connect {s.connect_s or 0:.1f} s, "
              f"RSS {s.rss_kb / 1024:.0f} MB ({s.rss_kb / max(s.devices, 1):.1f} KB/device), "
              f"CPU {s.cpu_s:.1f} s, steady {steady or 0:.1f}% of a core, sent {s.sent:,}")  # fmt: skip
    print(f"   messages sent: {summary.sent:,} in {summary.wall_s:.0f} s")


def bench_mosquitto(data: Path, profiles: list[DeviceProfile], brokers: int, hold: float) -> None:
    running = mosquittos(data, brokers)
    try:
        plan = FleetPlan(brokers=tuple(Broker("127.0.0.1", port) for _, port in running))
        before = [proc_figures(p.pid) for p, _ in running]
        started = time.monotonic()
        summary = run_fleet(profiles, plan, duration_s=hold)
        span = time.monotonic() - started
        report("Mosquitto", summary, plan)
        for (process, port), (_, cpu0) in zip(running, before, strict=True):
            if process.poll() is not None:
                # A broker that died (before each had its own store, one did): say so, keep its log.
                log = (data / f"mosquitto-{running.index((process, port))}.log").read_text()
                print(f"   mosquitto :{port} exited with {process.returncode}; its log ends:")
                print("\n".join("     " + line for line in log.splitlines()[-5:]))
                continue
            rss, cpu = proc_figures(process.pid)
            print(f"   mosquitto :{port}: RSS {rss:.0f} MB, CPU {cpu - cpu0:.1f} s "
                  f"({(cpu - cpu0) / span * 100:.1f}% of a core over the run)")  # fmt: skip
    finally:
        for process, _ in running:
            process.terminate()
            process.wait(10)


def bench_embedded(data: Path, profiles: list[DeviceProfile], count: int, hold: float) -> None:
    port, mqtt_port = free_port(), free_port()
    up = subprocess.Popen(
        [sys.executable, "-m", "eldercare", "up", "--no-demo", "--port", str(port),
         "--mqtt-port", str(mqtt_port)],
        env=environment(data), cwd=data, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", mqtt_port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.3)
        time.sleep(2)
        rss0, cpu0 = proc_figures(up.pid)
        plan = FleetPlan(brokers=(Broker("127.0.0.1", mqtt_port),))
        started = time.monotonic()
        summary = run_fleet(profiles[:count], plan, duration_s=hold)
        span = time.monotonic() - started
        report(f"Embedded broker (eldercare up), {count:,} devices", summary, plan)
        rss, cpu = proc_figures(up.pid)
        print(f"   eldercare up: RSS {rss0:.0f} -> {rss:.0f} MB, CPU {cpu - cpu0:.1f} s "
              f"({(cpu - cpu0) / span * 100:.0f}% of a core over the run)")  # fmt: skip
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(120)


def broker_configs(data: Path, edges: int) -> tuple[int, list[int]]:
    """A core broker (the gateway's) and `edges` edge brokers bridged to it; their ports."""
    core = free_port()
    bridge = ["--bridge-username", BRIDGE_USER]
    eldercare(data, "broker-config", "--out", str(data / "core"), "--port", str(core), *bridge)
    ports = []
    for index in range(edges):
        port = free_port()
        eldercare(data, "broker-config", "--out", str(data / f"edge-{index}"), "--port", str(port),
                  *bridge, "--bridge-to", f"127.0.0.1:{core}")  # fmt: skip
        ports.append(port)
    return core, ports


async def sos_ack_times(
    port: int, terminal: tuple[str, str], presses: int, topic: str
) -> tuple[list[float], int]:
    """Publish-to-ack times (ms) of SOS presses from a terminal on an edge broker; misses.

    `topic`: "alarm", the alarm topic (the alarm lane), or "uplink", as older terminals send."""
    device, secret = terminal
    press_topic = alarm_topic(device) if topic == "alarm" else uplink_topic(device)
    times, missed = [], 0
    # The terminal's one connection: on the edge its client id is its login (the fleet leaves
    # this device out, or each would throw the other off).
    async with aiomqtt.Client(
        "127.0.0.1", port, username=device, password=secret, identifier=device
    ) as timed:
        await timed.subscribe(downlink_topic(device), qos=1)
        messages = aiter(timed.messages)
        for n in range(presses):
            press_id = f"bench-sos-{time.time_ns()}-{n}"
            body = json.dumps({"v": 1, "id": press_id, "ts": dt.datetime.now(dt.UTC).isoformat(),
                               "type": "sos", "button": "main"})  # fmt: skip
            sent = time.perf_counter()
            await timed.publish(press_topic, body, qos=1)
            try:
                async with asyncio.timeout(10):
                    while True:  # the fleet's own copy of this terminal may hear notices too
                        answer = json.loads((await anext(messages)).payload)  # type: ignore[arg-type]
                        if answer.get("ref") == press_id:
                            break
                times.append((time.perf_counter() - sent) * 1000)
            except TimeoutError:
                missed += 1
            await asyncio.sleep(0.2)
    return times, missed


def bench_gateway(
    data: Path,
    profiles: list[DeviceProfile],
    edges: int,
    rates: list[float],
    presses: int,
    topic: str,
) -> None:
    """The whole fleet on edge Mosquittos bridged to a core read by `eldercare up`: SOS acks."""
    binary = "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else "mosquitto"
    core, edge_ports = broker_configs(data, edges)
    brokers = [
        subprocess.Popen([binary, "-c", str(data / folder / "mosquitto.conf")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        for folder in ["core", *(f"edge-{i}" for i in range(edges))]
    ]  # fmt: skip
    http = free_port()
    up = subprocess.Popen(
        [sys.executable, "-m", "eldercare", "up", "--no-seed", "--no-demo", "--port", str(http)],
        env={**environment(data), "ELDERCARE_LOG_LEVEL": "WARNING",
             "ELDERCARE_MQTT_URL": f"mqtt://eldercare-gateway:bench-gw@127.0.0.1:{core}"},
        cwd=data, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    terminal = next((p.device_id, p.secret) for p in profiles if p.device_id[0].isdigit())
    fleet = [p for p in profiles if p.device_id != terminal[0]]
    try:
        time.sleep(8)  # the gateway loads 25,000 devices and subscribes on the core
        for rate in rates:
            _one_rate(fleet, edge_ports, rate, terminal, presses, topic, up.pid, http)
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(120)
        for broker in brokers:
            broker.terminate()
            broker.wait(10)


def _one_rate(
    profiles: list[DeviceProfile],
    edge_ports: list[int],
    rate: float,
    terminal: tuple[str, str],
    presses: int,
    topic: str,
    gateway_pid: int,
    http_port: int,
) -> None:
    connected = threading.Event()
    plan = FleetPlan(brokers=tuple(Broker("127.0.0.1", p) for p in edge_ports), rate=rate)
    results: list[FleetSummary] = []

    def watch(summary: FleetSummary) -> None:
        if summary.connected >= summary.devices - summary.failed > 0:
            connected.set()

    def run() -> None:
        results.append(run_fleet(profiles, plan, duration_s=HOLD_WITH_GATEWAY_S, on_status=watch))

    fleet = threading.Thread(target=run)
    fleet.start()
    connected.wait(HOLD_WITH_GATEWAY_S)
    time.sleep(10)  # the fleet's traffic reaches its rate
    _rss, cpu0 = proc_figures(gateway_pid)
    busy0, total0 = machine_busy()
    inside_before = [event_loop_lag(http_port), *(histogram(http_port, n) for n in INSIDE)]
    started = time.monotonic()
    times, missed = asyncio.run(sos_ack_times(edge_ports[0], terminal, presses, topic))
    rss, cpu = proc_figures(gateway_pid)
    busy1, total1 = machine_busy()
    inside_after = [event_loop_lag(http_port), *(histogram(http_port, n) for n in INSIDE)]
    busy = (cpu - cpu0) / (time.monotonic() - started) * 100
    fleet.join()
    (summary,) = results
    print(
        f"\n== the whole fleet ({summary.connected:,} devices on {len(edge_ports)} edge "
        f"Mosquittos bridged to a core) at rate x{rate:g}: "
        f"{summary.sent / max(summary.wall_s, 1):,.0f} msg/s"
    )
    if times:
        print(
            f"   SOS ack (publish on an edge's {topic} topic to ack back), {len(times)} presses: "
            f"p50 {quantile(times, 0.5):.1f}  p99 {quantile(times, 0.99):.1f}  "
            f"max {max(times):.1f} ms, missed {missed}"
        )
    print(f"   eldercare up: RSS {rss:.0f} MB, {busy:.0f}% of a core while pressed; the machine's "
          f"{os.cpu_count()} cores {(busy1 - busy0) / max(total1 - total0, 1) * 100:.0f}% busy "
          "(the fleet's workers, the brokers and the gateway share them)")  # fmt: skip
    lag, wait, write = (
        f"{lag_quantile(b, a, 0.5):g} / {lag_quantile(b, a, 0.99):g}"
        for b, a in zip(inside_before, inside_after, strict=True)
    )
    print(f"   inside eldercare up, p50 / p99 ms (bucket bounds): its event loop's lag {lag}; "
          f"an alarm's wait for the writer's turn {wait}, its write {write}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--elders", type=int, default=FULL_REGISTER)
    parser.add_argument("--brokers", type=int, default=2, help="Mosquitto processes")
    parser.add_argument("--hold", type=float, default=90, help="seconds per run, connect included")
    parser.add_argument("--embedded-count", type=int, default=2000)
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument(
        "--with-gateway",
        default="",
        help="rates, e.g. 1,10: also run the fleet on edge brokers bridged to a core that "
        "`eldercare up` reads, timing SOS acks while it runs",
    )
    parser.add_argument("--presses", type=int, default=100, help="SOS presses per rate")
    parser.add_argument(
        "--sos-topic",
        choices=("alarm", "uplink"),
        default="alarm",
        help="where the timed terminal sends its SOS: the alarm topic (default), or the uplink "
        "topic, as terminals made before the alarm topic do",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as folder:
        data = Path(folder)
        started = time.monotonic()
        eldercare(data, "seed", "--count", str(args.elders))
        profiles = profiles_of(data)
        print(f"Register: {args.elders:,} elders, {len(profiles):,} bound devices "
              f"(seeded in {time.monotonic() - started:.0f} s)")  # fmt: skip
        bench_mosquitto(data, profiles, args.brokers, args.hold)
        if not args.skip_embedded:
            bench_embedded(data, profiles, args.embedded_count, args.hold)
        if args.with_gateway:
            rates = [float(r) for r in args.with_gateway.split(",")]
            bench_gateway(data, profiles, args.brokers, rates, args.presses, args.sos_topic)


if __name__ == "__main__":
    main()
