"""Alarm benchmark: from an SOS published on MQTT to the incident on the console's live feed.

One run, one machine, one Mosquitto, `eldercare up` in its own process (gateway, pipeline,
escalation, the live feed) on SQLite:
  (a) the cost of one routing decision (the rules alone, against the seeded street's centres
      and roster, for random elders' homes);
  (b) the ceiling: the same presses' MQTT round trip through the bare broker (publish to a
      subscriber in this process), the part of the latency no call centre can remove;
  (c) SOS published to the incident assigned and pushed on `/ws/feed`, p50/p99/max, while
      health monitors publish readings at each asked rate (the fleet's ~430 msg/s, and 10x).
Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.request
from pathlib import Path

import aiomqtt
import websockets
from sqlalchemy import select

from bench.common import free_port, quantile
from bench.ingest.run import (
    GATEWAY_PASSWORD,
    GATEWAY_USER,
    Load,
    _device_logins,
    _wait_http,
    _wait_port,
    client,
    eldercare,
    sos,
)
from callcenter.routing import repository as routing_repository
from callcenter.routing.service import route
from devices.protocol import downlink_topic, uplink_topic
from kernel.database import create_engine, session_factory
from kernel.models import Elder, utcnow
from kernel.settings import Settings


async def routing_cost(data: Path, decisions: int) -> tuple[float, int]:
    """Microseconds per routing decision, and how many centres had someone on duty."""
    settings = Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]
    engine = create_engine(settings.effective_database_url)
    async with session_factory(engine)() as session:
        centres = await routing_repository.centres_now(session, utcnow())
        homes = [(lat, lon) for lat, lon in await session.execute(select(Elder.lat, Elder.lon))]
    await engine.dispose()
    picks = [random.choice(homes) for _ in range(decisions)]
    seconds = timeit.timeit(lambda: [route(h, centres) for h in picks], number=1)
    return seconds / decisions * 1e6, sum(1 for c in centres if c.on_duty)


def sign_in(http_port: int, data: Path) -> str:
    """A bearer token for the demo operator (the password `eldercare up` made)."""
    password = (data / "demo-accounts.txt").read_text().splitlines()[0].strip()
    request = urllib.request.Request(
        f"http://127.0.0.1:{http_port}/api/auth/sign-in",
        data=json.dumps({"username": "op1", "password": password, "token": True}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(json.loads(answer.read())["token"])


def handled_so_far(http_port: int) -> float:
    """Device events the call centre's alarm engine has handled (its /metrics counter)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("eldercare_pipeline_events_total "):
                return float(line.split()[1])
    return 0.0


async def bare_round_trip(port: int, terminals: list[tuple[str, str]]) -> list[float]:
    """Publish-to-delivery times (ms) through the bare broker, one press per terminal."""
    times = []
    async with client(port, GATEWAY_USER, GATEWAY_PASSWORD) as watcher:
        await watcher.subscribe("eldercare/v1/up/+", qos=1)
        messages = aiter(watcher.messages)
        for n, (device, secret) in enumerate(terminals):
            async with client(port, device, secret) as terminal:
                sent = time.perf_counter()
                await terminal.publish(uplink_topic(device), sos(10_000 + n), qos=1)
                await asyncio.wait_for(anext(messages), 10)
                times.append((time.perf_counter() - sent) * 1000)
    return times


async def press_to_feed(
    port: int,
    http_port: int,
    token: str,
    terminals: list[tuple[str, str]],
    monitors: Path,
    rate: float,
) -> tuple[list[float], list[float], int, float]:
    """SOS publish to its incident on the live feed (ms) under readings at `rate`, publish to
    the gateway's ack (ms), misses, the readings' reached rate."""
    feed = await websockets.connect(
        f"ws://127.0.0.1:{http_port}/ws/feed",
        additional_headers={"Authorization": f"Bearer {token}"},
        max_queue=None,
    )
    arrived: dict[str, float] = {}
    heard: dict[str, asyncio.Event] = {d: asyncio.Event() for d, _ in terminals}

    async def listen() -> None:
        async for frame in feed:
            device = json.loads(frame)["incident"]["device_id"]
            if device in heard and device not in arrived:
                arrived[device] = time.perf_counter()
                heard[device].set()

    listener = asyncio.create_task(listen())
    load = Load(port, monitors, rate=rate)
    await load.ready()
    load.go()
    await asyncio.sleep(1.0)  # let the load reach its rate
    latencies, missed = [], 0
    async with asyncio.TaskGroup() as group:
        connected = [group.create_task(_connect(port, d, s)) for d, s in terminals]
    acks = []
    for n, ((device, _secret), session) in enumerate(zip(terminals, connected, strict=True)):
        terminal = session.result()
        await terminal.subscribe(downlink_topic(device), qos=1)
        acked = asyncio.create_task(_first_downlink(terminal))
        sent = time.perf_counter()
        await terminal.publish(uplink_topic(device), sos(Load.runs * 10**7 + n), qos=1)
        try:
            await asyncio.wait_for(heard[device].wait(), 10)
            latencies.append((arrived[device] - sent) * 1000)
            acks.append((await asyncio.wait_for(acked, 10) - sent) * 1000)
        except TimeoutError:
            missed += 1
            acked.cancel()  # its terminal disconnects at the end: nobody is waiting for it
            if listener.done():
                listener.result()  # the feed's reader failed: say why
        if (n + 1) % 10 == 0:
            print(f"    {n + 1} presses, {missed} missed", flush=True)
        await asyncio.sleep(0.1)
    published, seconds = await load.finish(stop=True)
    for task in connected:
        await task.result().__aexit__(None, None, None)
    listener.cancel()
    await feed.close()
    return latencies, acks, missed, published / seconds


async def _first_downlink(terminal: aiomqtt.Client) -> float:
    """When the terminal heard its first downlink message (the gateway's ack)."""
    async for _message in terminal.messages:
        return time.perf_counter()
    raise TimeoutError


async def _connect(port: int, device: str, secret: str) -> aiomqtt.Client:
    terminal = client(port, device, secret)
    await terminal.__aenter__()
    return terminal


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--monitors", type=int, default=50, help="publishing health monitors")
    parser.add_argument("--rates", default="430,4300", help="readings/s during the timed presses")
    parser.add_argument("--presses", type=int, default=100, help="SOS presses (terminals) per rate")
    parser.add_argument("--decisions", type=int, default=20_000, help="routing decisions timed")
    args = parser.parse_args()
    mosquitto = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if mosquitto is None:
        sys.exit("bench/alarms needs Mosquitto (apt-get install mosquitto)")

    with tempfile.TemporaryDirectory(prefix="bench-alarms-") as folder:
        data = Path(folder)
        print("preparing: 2,000 elders, their devices, Mosquitto files ...", flush=True)
        eldercare(data, "seed", "--count", "2000")
        per_decision, staffed = await routing_cost(data, args.decisions)
        print(f"(a) routing: {per_decision:.1f} µs a decision ({staffed} centres staffed now)")
        broker_port, http_port = free_port(), free_port()
        env = {
            **os.environ,
            "ELDERCARE_DATA_DIR": str(data),
            "ELDERCARE_MQTT_GATEWAY_PASSWORD": GATEWAY_PASSWORD,
        }
        subprocess.run(
            [sys.executable, "-m", "eldercare", "broker-config", "--out", str(data / "mq"),
             "--port", str(broker_port), "--gateway-username", GATEWAY_USER],
            check=True, env=env, cwd=data, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        logins = dict(line.split(":", 1) for line in _device_logins(data))
        monitors = data / "monitors.json"
        monitors.write_text(
            json.dumps([(d, s) for d, s in logins.items() if d.startswith("BP")][: args.monitors])
        )
        terminals = [(d, s) for d, s in logins.items() if d[0].isdigit()]
        rates = [float(r) for r in args.rates.split(",")]
        needed = args.presses * (len(rates) + 1)
        if len(terminals) < needed:
            sys.exit(f"need {needed} terminals, the seed has {len(terminals)}")
        broker = subprocess.Popen(
            [mosquitto, "-c", str(data / "mq" / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        centre = None
        runs = []
        try:
            _wait_port(broker_port)
            print(f"(b) ceiling: {args.presses} presses through the bare broker", flush=True)
            bare = await bare_round_trip(broker_port, terminals[: args.presses])
            centre = subprocess.Popen(
                [sys.executable, "-m", "eldercare", "up", "--no-seed", "--no-demo",
                 "--port", str(http_port)],
                env={
                    **env,
                    "ELDERCARE_MQTT_URL": f"mqtt://{GATEWAY_USER}:{GATEWAY_PASSWORD}@127.0.0.1:{broker_port}",
                    "ELDERCARE_LOG_LEVEL": "WARNING",
                },
                cwd=data, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            _wait_http(http_port)
            await asyncio.sleep(1.0)  # the gateway's subscription settles
            token = sign_in(http_port, data)
            for n, rate in enumerate(rates, start=1):
                batch = terminals[n * args.presses : (n + 1) * args.presses]
                print(f"(c) {args.presses} presses, readings at {rate:,.0f}/s", flush=True)
                before, started = handled_so_far(http_port), time.perf_counter()
                measured = await press_to_feed(broker_port, http_port, token, batch, monitors, rate)
                judged = (handled_so_far(http_port) - before) / (time.perf_counter() - started)
                runs.append((rate, *measured, judged))
                await asyncio.sleep(3)  # let a backlog drain before the next rate
        finally:
            if centre is not None:
                centre.send_signal(signal.SIGINT)
                try:
                    centre.wait(60)
                except subprocess.TimeoutExpired:
                    centre.kill()
            broker.terminate()
            broker.wait(10)

    print()
    print(f"routing decision:                 {per_decision:8.1f} µs")
    print(
        f"bare broker round trip (ceiling): p50 {quantile(bare, 0.5):6.1f}  "
        f"p99 {quantile(bare, 0.99):6.1f}  max {max(bare):6.1f} ms"
    )
    print("SOS published -> incident assigned, on the live feed (and, of that, -> gateway's ack):")
    print(
        f"{'asked/s':>9} {'reached/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'missed':>7}"
        f"   {'ack p50':>8} {'ack p99':>8} {'judged/s':>9}"
    )
    for rate, latencies, acks, missed, reached, judged in runs:
        print(
            f"{rate:9,.0f} {reached:10,.0f} {quantile(latencies, 0.5):8.1f} "
            f"{quantile(latencies, 0.99):8.1f} {max(latencies):8.1f} {missed:7d}"
            f"   {quantile(acks, 0.5):8.1f} {quantile(acks, 0.99):8.1f} {judged:9,.0f}"
        )
    print("(judged/s: device events the alarm engine handled a second meanwhile)")


if __name__ == "__main__":
    asyncio.run(main())
