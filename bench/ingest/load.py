"""The readings load for bench/ingest, in a process of its own, published by `mosquitto_pub`.

The fleet's devices are not on the gateway's machine, and they do not share an event loop
with the terminal whose SOS is timed. Here they cost the two shared cores as little as a load
can: one `mosquitto_pub -l` (the C client a device maker tries first) per monitor, with its own
login, fed its readings line by line by this process. It starts them, prints `ready`, waits for
a line on stdin, feeds `--total` readings (as fast as the clients take them, or at `--rate`
per second) or until SIGTERM, closes their input, waits until they have published everything,
then prints `{"published": n, "seconds": s}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import sys
import time
from pathlib import Path

from devices.protocol import uplink_topic

TICK_S = 0.01


def reading(device: str, n: int, stamp: str) -> bytes:
    body = {"v": 1, "id": f"{device}-{n}", "ts": stamp, "type": "vitals", "hr": 60 + n % 40}
    return json.dumps({**body, "spo2": 97}).encode() + b"\n"


async def publisher(port: int, device: str, secret: str) -> asyncio.subprocess.Process:
    mosquitto_pub = shutil.which("mosquitto_pub")
    if mosquitto_pub is None:
        sys.exit("bench/ingest needs mosquitto_pub (apt-get install mosquitto-clients)")
    return await asyncio.create_subprocess_exec(
        mosquitto_pub, "-h", "127.0.0.1", "-p", str(port), "-i", device, "-u", device,
        "-P", secret, "-t", uplink_topic(device), "-q", "1", "-M", "1000", "--nodelay", "-l",
        stdin=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--logins", type=Path, required=True, help="JSON [[device, secret], ...]")
    parser.add_argument("--total", type=int, default=10**9)
    parser.add_argument("--rate", type=float, default=0.0, help="readings/s; 0: as fast as it can")
    parser.add_argument("--first", type=int, default=0, help="number of the first reading (ids)")
    args = parser.parse_args()
    monitors: list[tuple[str, str]] = [tuple(pair) for pair in json.loads(args.logins.read_text())]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    total = (args.total // len(monitors)) * len(monitors)

    clients = [await publisher(args.port, d, s) for d, s in monitors]
    await asyncio.sleep(0.5)  # their connections
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    started = time.perf_counter()
    published = 0
    while published < total and not stop.is_set():
        if args.rate:
            due = min(total, int((time.perf_counter() - started) * args.rate)) - published
        else:
            due = min(total - published, 50 * len(monitors))
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        chunks: list[list[bytes]] = [[] for _ in clients]
        for k in range(published, published + due):
            m = k % len(monitors)
            chunks[m].append(reading(monitors[m][0], args.first + k // len(monitors), stamp))
        for client, chunk in zip(clients, chunks, strict=True):
            if chunk:
                assert client.stdin is not None
                client.stdin.write(b"".join(chunk))
        published += due
        if args.rate:
            await asyncio.sleep(TICK_S)
        else:
            await asyncio.gather(*(c.stdin.drain() for c in clients if c.stdin is not None))
    for client in clients:
        assert client.stdin is not None
        client.stdin.close()
    for client in clients:
        await client.wait()  # mosquitto_pub -l leaves once everything it read is published
    seconds = time.perf_counter() - started
    print(json.dumps({"published": published, "seconds": seconds}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
