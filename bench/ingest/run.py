"""Ingest benchmark: the gateway against the bare broker, and SOS ack latency under load.

One run, one machine, one Mosquitto:
  (a) ceiling: a bare aiomqtt subscriber that only counts, on the same broker, same stream,
      reading the socket as the gateway does;
  (b) the gateway (`eldercare up` in its own process, shared subscription, SQLite) taking the
      same stream end to end: validated, recorded, acknowledged where the protocol says;
  (c) SOS ack latency (publish to ack received) while readings flow at a target rate, and its
      floor: the same presses answered at once by a bare client (before the gateway starts);
      and, from the gateway's /metrics over the same presses, where an alarm's time went in
      the writes it shares with the readings (its wait for the writer's turn, its own write, how
      long the batch writer's transactions held that turn).
Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiomqtt

from bench.common import (
    event_loop_lag,
    free_port,
    histogram,
    lag_quantile,
    print_profile,
    py_spy,
    quantile,
)
from devices.protocol import alarm_topic, downlink_topic, uplink_topic
from gateway.mqtt import queued_message, with_buffered_reads

# An alarm's wait for the writer's turn, its own write, a batch's hold on the turn (gateway.metrics).
WRITE_HISTOGRAMS = (
    "eldercare_gateway_alarm_turn_wait_seconds",
    "eldercare_gateway_alarm_write_seconds",
    "eldercare_gateway_batch_write_seconds",
)
GATEWAY_USER = "bench-gateway"
GATEWAY_PASSWORD = "bench-gateway-password"


def eldercare(data: Path, *args: str) -> None:
    env = {**os.environ, "ELDERCARE_DATA_DIR": str(data)}
    subprocess.run(
        [sys.executable, "-m", "eldercare", *args],
        check=True,
        env=env,
        cwd=data,
        stdout=subprocess.DEVNULL,
    )


def sos(n: int) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    return json.dumps(
        {"v": 1, "id": f"sos-{n}", "ts": now, "type": "sos", "button": "main"}
    ).encode()


class Load:
    """The readings, published by bench/ingest/load.py in a process of its own."""

    runs = 0

    def __init__(self, port: int, logins: Path, total: int = 10**9, rate: float = 0.0) -> None:
        Load.runs += 1
        self._args = [
            "--port", str(port), "--logins", str(logins), "--total", str(total),
            "--rate", str(rate), "--first", str(Load.runs * 10**7),
        ]  # fmt: skip
        self._process: asyncio.subprocess.Process | None = None

    async def ready(self) -> None:
        """Start the process and wait until its monitors are connected."""
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.ingest.load", *self._args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), 60)
        if line.strip() != b"ready":
            sys.exit(f"the load generator did not start: {line!r}")

    def go(self) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(b"go\n")

    async def finish(self, *, stop: bool = False) -> tuple[int, float]:
        """(readings published, seconds taken); `stop` ends a load that has no end of its own."""
        assert self._process is not None and self._process.stdout is not None
        if stop:
            self._process.terminate()
        line = await self._process.stdout.readline()
        await self._process.wait()
        figures = json.loads(line)
        return int(figures["published"]), float(figures["seconds"])


def client(port: int, username: str, password: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1",
        port,
        username=username,
        password=password,
        identifier=username,
        max_inflight_messages=1000,
        socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
    )


async def ceiling(port: int, gateway_port: int, logins: Path, monitors: int, total: int) -> float:
    """Messages per second a bare subscriber on the gateways' listener receives from this broker."""
    received = 0
    done = asyncio.Event()
    expected = (total // monitors) * monitors
    # Read as the gateway reads (gateway.mqtt.BufferedSocket, the queue drained), so the ratio
    # is the gateway's own work.
    async with with_buffered_reads(client(gateway_port, GATEWAY_USER, GATEWAY_PASSWORD)) as sub:
        await sub.subscribe("eldercare/v1/up/+", qos=1)

        async def count() -> None:
            nonlocal received
            async for _ in sub.messages:
                received += 1
                # and what is already queued, straight from the queue, as the gateway takes it
                while queued_message(sub) is not None:
                    received += 1
                if received >= expected:
                    done.set()
                    return

        counter = asyncio.create_task(count())
        load = Load(port, logins, total)
        await load.ready()
        started = time.perf_counter()
        load.go()
        await asyncio.wait_for(done.wait(), 120)
        elapsed = time.perf_counter() - started
        await load.finish()
        counter.cancel()
    return expected / elapsed


def gateway_taken(http_ports: list[int]) -> float:
    """Messages the gateways have recorded so far (from their /metrics)."""
    return sum(_taken(port) for port in http_ports)


def _taken(http_port: int) -> float:
    # Committed, not merely accepted: a batched reading is counted in the ingest-lag histogram
    # when its batch commits (messages_total counts it as it arrives, before it is written).
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("eldercare_gateway_ingest_lag_seconds_count")
    )


async def gateway_throughput(
    port: int, http_ports: list[int], logins: Path, monitors: int, total: int
) -> float:
    """Messages per second the gateway takes end to end (validated, recorded, acknowledged)."""
    before = gateway_taken(http_ports)
    expected = (total // monitors) * monitors
    load = Load(port, logins, total)
    await load.ready()
    started = time.perf_counter()
    load.go()
    # The gateway is another process: its /metrics is the only thing to wait on. Asked every
    # 0.1 s: each answer costs the gateway ~2.5 ms, which asked every 20 ms took 12% of its CPU.
    while gateway_taken(http_ports) - before < expected:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - started
    await load.finish()
    return expected / elapsed


async def ack_latency(
    port: int, terminal: tuple[str, str], logins: Path, rate: float, presses: int, topic: str
) -> tuple[list[float], int, float]:
    """Publish-to-ack times (ms) of SOS presses under readings at `rate`/s; also misses, rate reached.

    `topic`: "alarm", the alarm topic (the alarm lane), or "uplink", as older terminals send."""
    device, secret = terminal
    press_topic = alarm_topic(device) if topic == "alarm" else uplink_topic(device)
    latencies: list[float] = []
    missed = 0
    async with client(port, device, secret) as c:
        await c.subscribe(downlink_topic(device), qos=1)
        load = Load(port, logins, rate=rate)
        await load.ready()
        load.go()
        await asyncio.sleep(1.0)  # let the load reach its rate
        messages = aiter(c.messages)
        for n in range(presses):
            sent = time.perf_counter()
            await c.publish(press_topic, sos(Load.runs * 10**7 + n), qos=1)
            try:
                await asyncio.wait_for(anext(messages), 10)
            except TimeoutError:
                missed += 1
                continue
            latencies.append((time.perf_counter() - sent) * 1000)
            await asyncio.sleep(0.1)
        published, seconds = await load.finish(stop=True)
    return latencies, missed, published / seconds


class BareResponder:
    """The SOS ack's floor: a client that answers each alarm at once, doing nothing else.

    Logged in as the gateway's alarm lane, on its listener, reading the alarm topic (or the
    uplink) and publishing `{"ref": id}` on the device's downlink: what the broker, the load and
    the machine cost an ack before the gateway does any work (run while no gateway is up).
    """

    def __init__(self, port: int, topic: str) -> None:
        lane = f"{GATEWAY_USER}-alarms" if topic == "alarm" else GATEWAY_USER
        self._client = client(port, lane, GATEWAY_PASSWORD)
        self._filter = "eldercare/v1/alarm/+" if topic == "alarm" else "eldercare/v1/up/+"
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> BareResponder:
        await self._client.__aenter__()
        await self._client.subscribe(self._filter, qos=1)
        self._task = asyncio.create_task(self._answer())
        return self

    async def _answer(self) -> None:
        async for message in self._client.messages:
            payload = message.payload
            if not isinstance(payload, bytes) or b'"sos"' not in payload:
                continue  # a reading, on the uplink topic
            device = str(message.topic).rsplit("/", 1)[1]
            ref = json.loads(payload)["id"]
            ack = json.dumps({"v": 1, "type": "ack", "ref": ref, "status": "received"})
            await self._client.publish(downlink_topic(device), ack, qos=1)

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        await self._client.__aexit__(None, None, None)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000, help="readings per throughput run")
    parser.add_argument("--monitors", type=int, default=50, help="publishing devices")
    parser.add_argument(
        "--rates",
        default="430,1300,4300",
        help="readings/s during the latency runs, comma-separated (default: the fleet's normal "
        "~430 msg/s, i.e. 25,585 devices with a heartbeat a minute, then 3x and 10x)",
    )
    parser.add_argument("--presses", type=int, default=150, help="SOS presses timed per rate")
    parser.add_argument(
        "--sos-topic",
        choices=("alarm", "uplink"),
        default="alarm",
        help="where the timed terminal sends its SOS: the alarm topic (default), or the uplink "
        "topic, as terminals made before the alarm topic do",
    )
    parser.add_argument(
        "--gateways",
        type=int,
        default=1,
        help="gateway processes sharing the subscription (each `eldercare up`, own client id)",
    )
    parser.add_argument(
        "--role",
        choices=("gateway", "all"),
        default="gateway",
        help="gateway: `eldercare up --role gateway`, the gateway process as production runs it "
        "(default); all: the whole call centre in the one process (gateway, alarm pipeline "
        "judging every reading, escalation, SMS), as `./dev up` runs it",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the (first) gateway with py-spy (pip install py-spy) from (b) to the end, "
        "as collapsed stacks in this file, and print where its time went",
    )
    args = parser.parse_args()
    mosquitto = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if mosquitto is None:
        sys.exit("bench/ingest needs Mosquitto (apt-get install mosquitto)")

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
        data = Path(folder)
        print("preparing: 2,000 elders, their devices, Mosquitto files ...", flush=True)
        eldercare(data, "seed", "--count", "2000")
        # Devices log in on broker_port, where the client id is the login; gateways on a
        # listener of their own (`broker-config --gateway-port`), as on a single production broker.
        broker_port, gateway_port, http_port = free_port(), free_port(), free_port()
        env = {
            **os.environ,
            "ELDERCARE_DATA_DIR": str(data),
            "ELDERCARE_MQTT_GATEWAY_PASSWORD": GATEWAY_PASSWORD,
        }
        subprocess.run(
            [
                sys.executable,
                "-m",
                "eldercare",
                "broker-config",
                "--out",
                str(data / "mq"),
                "--port",
                str(broker_port),
                "--gateway-port",
                str(gateway_port),
                "--gateway-username",
                GATEWAY_USER,
            ],
            check=True,
            env=env,
            cwd=data,
            stdout=subprocess.DEVNULL,
        )
        logins = dict(line.split(":", 1) for line in _device_logins(data))
        monitors = [(d, s) for d, s in logins.items() if d.startswith("BP")][: args.monitors]
        monitor_logins = data / "monitors.json"
        monitor_logins.write_text(json.dumps(monitors))
        terminal = next((d, s) for d, s in logins.items() if d[0].isdigit())
        broker = subprocess.Popen(
            [mosquitto, "-c", str(data / "mq" / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        gateways: list[subprocess.Popen[bytes]] = []
        spy: subprocess.Popen[bytes] | None = None
        http_ports = [http_port]
        try:
            _wait_port(broker_port)
            _wait_port(gateway_port)
            print(
                f"(a) ceiling: bare subscriber, {args.messages:,} QoS 1 readings from {len(monitors)} devices",
                flush=True,
            )
            bare = await ceiling(
                broker_port, gateway_port, monitor_logins, len(monitors), args.messages
            )
            print(f"    {bare:,.0f} msg/s", flush=True)
            floors = []
            for rate in [float(r) for r in args.rates.split(",")]:
                print(
                    f"(a) SOS ack floor: a bare responder, {args.presses} presses, readings at "
                    f"{rate:,.0f}/s",
                    flush=True,
                )
                async with BareResponder(gateway_port, args.sos_topic):
                    floor = await ack_latency(
                        broker_port, terminal, monitor_logins, rate, args.presses, args.sos_topic
                    )
                floors.append(floor)
            gateway_env = {
                **env,
                "ELDERCARE_MQTT_URL": f"mqtt://{GATEWAY_USER}:{GATEWAY_PASSWORD}@127.0.0.1:{gateway_port}",
                "ELDERCARE_LOG_LEVEL": "WARNING",
            }
            http_ports = [http_port] + [free_port() for _ in range(args.gateways - 1)]
            for n, port in enumerate(http_ports):
                gateways.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "eldercare", "up", "--no-seed", "--no-demo",
                         "--role", args.role, "--port", str(port)],
                        env={**gateway_env, "ELDERCARE_GATEWAY_ID": f"bench-gateway-{n}"},
                        cwd=data,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )  # fmt: skip
            for port in http_ports:
                _wait_http(port)
            await asyncio.sleep(1.0)  # the gateway's subscription settles
            if args.profile:
                spy = py_spy(gateways[0].pid, args.profile)
            print("(b) the gateway, same stream, end to end", flush=True)
            through = await gateway_throughput(
                broker_port, http_ports, monitor_logins, len(monitors), args.messages
            )
            print(f"    {through:,.0f} msg/s", flush=True)
            runs = []
            write_runs: list[list[tuple[float, float]]] = []
            for rate in [float(r) for r in args.rates.split(",")]:
                print(
                    f"(c) SOS ack latency, {args.presses} presses, readings at {rate:,.0f}/s",
                    flush=True,
                )
                lag_before = event_loop_lag(http_ports[0])
                writes_before = [histogram(http_ports[0], name) for name in WRITE_HISTOGRAMS]
                latencies, missed, reached = await ack_latency(
                    broker_port, terminal, monitor_logins, rate, args.presses, args.sos_topic
                )
                lag_after = event_loop_lag(http_ports[0])
                lag = (
                    lag_quantile(lag_before, lag_after, 0.5),
                    lag_quantile(lag_before, lag_after, 0.99),
                )
                writes_after = [histogram(http_ports[0], name) for name in WRITE_HISTOGRAMS]
                runs.append((rate, reached, missed, latencies, lag))
                write_runs.append(
                    [
                        (lag_quantile(b, a, 0.5), lag_quantile(b, a, 0.99))
                        for b, a in zip(writes_before, writes_after, strict=True)
                    ]
                )
                await asyncio.sleep(3)  # let a backlog drain before the next rate
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
        finally:
            for gateway in gateways:
                gateway.send_signal(signal.SIGINT)
            for gateway in gateways:
                try:
                    gateway.wait(60)
                except subprocess.TimeoutExpired:
                    print("a gateway did not stop within 60 s of Ctrl-C; killed", flush=True)
                    gateway.kill()
            broker.terminate()
            broker.wait(10)

    print()
    print(
        f"{args.gateways} x eldercare up --role {args.role} on SQLite; "
        "readings published by mosquitto_pub"
    )
    print(f"ceiling (bare subscriber):   {bare:10,.0f} msg/s")
    print(f"gateway (end to end):        {through:10,.0f} msg/s")
    print(f"ratio gateway / ceiling:     {through / bare:10.2f}")
    print()
    print(
        f"SOS ack latency (publish on the {args.sos_topic} topic to ack received) while readings flow;"
        "\nfloor: the same presses answered by a bare responder in place of the gateway (a):"
    )
    print(
        f"{'asked/s':>9} {'reached/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'missed':>7} "
        f"{'floor p50':>9} {'floor p99':>9} {'loop p50':>9} {'loop p99':>9}"
    )
    for (rate, reached, missed, latencies, lag), (floor_ms, _missed, _reached) in zip(
        runs, floors, strict=True
    ):
        print(
            f"{rate:9,.0f} {reached:10,.0f} {quantile(latencies, 0.5):8.1f} "
            f"{quantile(latencies, 0.99):8.1f} {max(latencies):8.1f} {missed:7d} "
            f"{quantile(floor_ms, 0.5):9.1f} {quantile(floor_ms, 0.99):9.1f} "
            f"{lag[0]:9.0f} {lag[1]:9.0f}"
        )
    print(
        "loop: how late the (first) gateway's event loop ran a probe due every 0.1 s, ms, as the"
        " upper bound of its histogram bucket"
    )
    print()
    print("In the (first) gateway over the same presses, ms (upper bounds of histogram buckets):")
    print(
        f"{'asked/s':>9} {'turn p50':>9} {'turn p99':>9} {'write p50':>9} {'write p99':>9}"
        f" {'batch p50':>9} {'batch p99':>9}"
    )
    for (rate, *_), writes in zip(runs, write_runs, strict=True):
        (turn, write, batch) = writes
        print(
            f"{rate:9,.0f} {turn[0]:9.1f} {turn[1]:9.1f} {write[0]:9.1f} {write[1]:9.1f}"
            f" {batch[0]:9.1f} {batch[1]:9.1f}"
        )
    print(
        "turn: an alarm's wait for its turn on the database's writer; write: its own"
        " transaction;\nbatch: how long each transaction of the batch writer (readings) held"
        " that turn"
    )
    if args.profile:
        print_profile(args.profile, "the gateway")


def _device_logins(data: Path) -> list[str]:
    script = (
        "import asyncio\n"
        "from kernel.database import create_engine, session_factory\n"
        "from kernel.settings import get_settings\n"
        "from gateway.credentials.repository import device_logins\n"
        "async def main():\n"
        "    engine = create_engine(get_settings().effective_database_url)\n"
        "    async with session_factory(engine)() as s:\n"
        "        for d, p in await device_logins(s): print(f'{d}:{p}')\n"
        "    await engine.dispose()\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "ELDERCARE_DATA_DIR": str(data)}
    return subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        env=env,
        cwd=data,
        capture_output=True,
        text=True,
    ).stdout.split()


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"the broker did not listen on {port}")


def _wait_http(port: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    sys.exit("the gateway did not come up")


if __name__ == "__main__":
    asyncio.run(main())
