"""The DC-09 receiver on TCP and UDP, one port for both (DC-09 5.4: either transport).

TCP: a panel connects, sends a frame (LF ... CR), waits for the answer, and may send the next
on the same connection; frames of one connection are taken in order. UDP: one frame a datagram,
answered to where it came from; datagrams are taken side by side, at most MAX_DATAGRAMS at a
time (a flood beyond that is dropped and counted, the panels' own frames resent by them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from prometheus_client import Counter

from gateway.dc09.frames import MAX_FRAME_BYTES
from gateway.dc09.service import AlarmReceiver

log = logging.getLogger(__name__)

# A connection that sends nothing for this long is closed: panels connect per message or keep
# a connection for their link tests, which come more often than this.
IDLE_TIMEOUT_S = 300.0
MAX_DATAGRAMS = 256
# How long a stop waits for the frames in hand to be answered.
STOP_WAIT_S = 5.0

DATAGRAMS_DROPPED = Counter(
    "eldercare_dc09_datagrams_dropped_total",
    "DC-09 datagrams dropped because MAX_DATAGRAMS were already in hand",
)


class ReceiverPorts:
    """The receiver's TCP listener and UDP socket on one port."""

    def __init__(self, receiver: AlarmReceiver, host: str, port: int) -> None:
        self._receiver = receiver
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        """The port listened on (the one chosen by the system when 0 was asked for)."""
        if self._server is None:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Listen on TCP, then bind UDP on the same port."""
        self._server = await asyncio.start_server(
            self._connection, self._host, self._port, limit=2 * MAX_FRAME_BYTES
        )
        loop = asyncio.get_running_loop()
        try:
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), local_addr=(self._host, self.port)
            )
        except OSError:
            self._server.close()
            raise
        log.info("DC-09 receiver on %s:%d (TCP and UDP)", self._host, self.port)

    async def stop(self) -> None:
        """Stop listening, answer the frames in hand (for a while), close the connections."""
        if self._server is not None:
            self._server.close()
        if self._udp is not None:
            self._udp.close()
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=STOP_WAIT_S)
            for task in late:
                task.cancel()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()
        self._server = self._udp = None

    def datagram(self, data: bytes, address: Any) -> None:
        """Take one datagram in a task of its own (bounded)."""
        if len(self._tasks) >= MAX_DATAGRAMS:
            DATAGRAMS_DROPPED.inc()
            return
        self._track(asyncio.ensure_future(self._answer_datagram(data, address)))

    async def _answer_datagram(self, data: bytes, address: Any) -> None:
        answer = await self._receiver.take(data, "udp", _peer(address))
        if answer is not None and self._udp is not None:
            self._udp.sendto(answer, address)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer.get_extra_info("peername"))
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._track(task)
        try:
            while True:
                try:
                    frame = await asyncio.wait_for(reader.readuntil(b"\r"), IDLE_TIMEOUT_S)
                except (asyncio.IncompleteReadError, TimeoutError):
                    return  # the panel is done (or silent): its next message opens a connection
                except asyncio.LimitOverrunError:
                    log.warning("DC-09 connection from %s sent no frame end; closed", peer)
                    return
                start = frame.find(b"\n")  # bytes between frames are not part of the next
                answer = await self._receiver.take(frame[max(start, 0) :], "tcp", peer)
                if answer is not None:
                    writer.write(answer)
                    await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, ports: ReceiverPorts) -> None:
        self._ports = ports

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._ports.datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        # An ICMP error for an answer sent (the panel gone): nothing to do but say so.
        log.info("DC-09 UDP: %s", exc)


def _peer(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)
