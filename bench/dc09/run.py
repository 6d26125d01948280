"""DC-09 SOS ack latency: a panel's personal emergency to its ACK, over TCP and UDP, against the
protocol's own SOS to its ack (WebSocket) on the same gateway and a bare DC-09 responder's floor.

`eldercare up --role gateway` runs in its own process on SQLite with the receiver on, 200 seeded
elders, one terminal bound to DC-09 account 1234 (AES-128). Each press is a new report (its own
sequence number), sent when the previous was answered; the dialer keeps its TCP connection.
The floor: the same presses answered by a bare responder in this process (the library's parse
and encrypted ACK, no gateway), before the gateway starts.

    ./dev bench dc09 [--presses 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import websockets
from siadc09 import account as dc09_account
from siadc09 import message as dc09_message
from sqlalchemy import select

from bench.common import free_port, quantile
from devices.ids import DeviceKind
from eldercare.jobs import seed_demo
from gateway.dc09.accounts import register_account
from kernel import migrate
from kernel.database import create_engine, session_factory
from kernel.models import Device
from kernel.settings import Settings
from simulators.dc09 import Dialer, Transport, contact_id

KEY = "000102030405060708090A0B0C0D0E0F"
ELDERS = 200


async def _prepare(settings: Settings) -> tuple[str, str, str]:
    """Seed the street; bind the first terminal to account 1234; a second terminal's login."""
    engine = create_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    try:
        await seed_demo(sessions, settings, count=ELDERS)
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(Device.id, Device.secret)
                    .where(Device.kind == DeviceKind.SOS_TERMINAL)
                    .order_by(Device.id)
                    .limit(2)
                )
            ).all()
        (panel, _), (terminal, secret) = rows
        async with sessions() as session, session.begin():
            await register_account(
                session, "1234", panel, key=KEY, plain=False, falls_as_general_alarm=False,
                supervision_s=None, test_every_s=None, actor="bench",
            )  # fmt: skip
        return panel, terminal, secret
    finally:
        await engine.dispose()


async def _dc09_presses(port: int, transport: Transport, presses: int) -> list[float]:
    dialer = Dialer("127.0.0.1", port, "1234", bytes.fromhex(KEY), transport=transport)
    took = []
    try:
        for press in range(presses):
            started = time.perf_counter()
            answer = await dialer.send(contact_id("1101", zone=press % 999 + 1))
            took.append(time.perf_counter() - started)
            assert answer.kind == "ACK", answer
    finally:
        await dialer.close()
    return took


async def _ws_presses(http_port: int, terminal: str, secret: str, presses: int) -> list[float]:
    took = []
    async with websockets.connect(f"ws://127.0.0.1:{http_port}/ws/device") as socket:
        await socket.send(
            json.dumps({"v": 1, "type": "hello", "device": terminal, "secret": secret})
        )
        assert json.loads(await socket.recv())["type"] == "welcome"
        for press in range(presses):
            now = dt.datetime.now(dt.UTC).isoformat()
            message = {"v": 1, "id": f"b{press}", "ts": now, "type": "sos", "button": "main"}
            started = time.perf_counter()
            await socket.send(json.dumps(message))
            assert json.loads(await socket.recv())["status"] == "received"
            took.append(time.perf_counter() - started)
    return took


class _Floor(asyncio.DatagramProtocol):
    """A bare DC-09 responder: the library's parse and encrypted ACK, nothing recorded."""

    transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.transport.sendto(_floor_answer(data), addr)


def _floor_answer(data: bytes) -> bytes:
    key = bytes.fromhex(KEY)
    frame = dc09_message.parse_frame(data, key)
    account = dc09_account.Account(acct=frame.account.acct, key=key)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return bytes(dc09_message.AckMessage(account, frame.seq, now, True).encode())


async def _floor(presses: int) -> dict[str, list[float]]:
    port = free_port()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                writer.write(_floor_answer(await reader.readuntil(b"\r")))
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", port)
    udp, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        _Floor, local_addr=("127.0.0.1", port)
    )
    try:
        return {t: await _dc09_presses(port, t, presses) for t in ("tcp", "udp")}
    finally:
        udp.close()
        server.close()


def _line(name: str, took: list[float]) -> str:
    ms = [t * 1000 for t in took]
    return (
        f"  {name:<34} p50 {quantile(ms, 0.5):6.2f}  p99 {quantile(ms, 0.99):6.2f}  "
        f"max {max(ms):6.2f} ms  ({len(ms)} presses)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        http_port, dc09_port = free_port(), free_port()
        env = {
            **os.environ,
            "ELDERCARE_DATA_DIR": str(data),
            "ELDERCARE_DC09_PORT": str(dc09_port),
            "ELDERCARE_MQTT_PORT": str(free_port()),
            "ELDERCARE_LOG_LEVEL": "WARNING",
        }
        env.pop("ELDERCARE_DATABASE_URL", None)
        settings = Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]
        migrate.upgrade(settings.effective_database_url)
        _, terminal, secret = asyncio.run(_prepare(settings))
        floor = asyncio.run(_floor(args.presses))
        gateway = subprocess.Popen(
            [sys.executable, "-m", "eldercare", "up", "--role", "gateway", "--no-demo",
             "--no-seed", "--port", str(http_port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz") as up:
                        if up.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline or gateway.poll() is not None:
                    raise SystemExit("the gateway did not come up")
                time.sleep(0.2)
            measured = {
                "DC-09 over TCP": asyncio.run(_dc09_presses(dc09_port, "tcp", args.presses)),
                "DC-09 over UDP": asyncio.run(_dc09_presses(dc09_port, "udp", args.presses)),
                "protocol SOS over WebSocket": asyncio.run(
                    _ws_presses(http_port, terminal, secret, args.presses)
                ),
            }
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)
    print(f"SOS to its ack, gateway on SQLite ({dt.date.today()}):")
    for name, took in measured.items():
        print(_line(name, took))
    print("floor, a bare DC-09 responder (library parse and encrypted ACK, nothing recorded):")
    for name, took in floor.items():
        print(_line(f"DC-09 over {name.upper()}", took))


if __name__ == "__main__":
    main()
