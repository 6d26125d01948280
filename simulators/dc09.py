"""An alarm panel's IP dialer in software: SIA DC-09 over TCP or UDP, and nothing else.

It frames its reports with the siadc09 library (DC-09-2026: CRC, length, AES-CBC with the
account's key and DC-09's padding, the timestamp) and behaves as a panel does: each new report
takes the next sequence number (9999 wraps to 0001); a report not answered within the timeout
is sent again with the same number, stamped anew; after a NAK it sets its clock by the
receiver's timestamp and sends again; an ACK or a DUH ends the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from typing import Any, Literal

from siadc09 import account as dc09_account
from siadc09 import admcid, siadcs
from siadc09 import message as dc09_message

Transport = Literal["tcp", "udp"]
ANSWER_TIMEOUT_S = 5.0
ATTEMPTS = 5


class NoAnswerError(Exception):
    """The receiver answered none of the attempts."""


@dataclasses.dataclass(frozen=True, slots=True)
class Report:
    """What a panel reports, before it is framed: a message type and its data."""

    token: str  # "ADM-CID", "SIA-DCS" or "NULL"
    data: bytes | None  # the data after the account block, e.g. b"1101 00 001"


def contact_id(code: str, zone: int = 0, group: int = 0) -> Report:
    """A Contact ID event: qualifier and code ("1101": new personal emergency), zone, group."""
    return Report("ADM-CID", f"{code} {group:02d} {zone:03d}".encode("ascii"))


def sia(code: str, zone: int = 0) -> Report:
    """A SIA (DC-03) new event: its two-letter code and zone ("MA", 1)."""
    return Report("SIA-DCS", f"N{code}{zone:03d}".encode("ascii"))


NULL = Report("NULL", None)  # the link test


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """The receiver's answer to a frame."""

    kind: str  # "ACK", "NAK" or "DUH"
    seq: int
    timestamp: dt.datetime | None
    frame: bytes


class Dialer:
    """One panel's dialer: its account (and key), the receiver's address, its clock."""

    def __init__(
        self,
        host: str,
        port: int,
        account: str,
        key: bytes | None = None,
        *,
        transport: Transport = "tcp",
        timeout_s: float = ANSWER_TIMEOUT_S,
        stamp_plain: bool = True,
    ) -> None:
        self.host, self.port, self.transport = host, port, transport
        self.account = int(account, 16)
        self.key = key
        self.timeout_s = timeout_s
        self.stamp_plain = stamp_plain  # DC-09 makes the timestamp optional on plain frames
        self.clock_offset = dt.timedelta()  # set from a NAK's timestamp
        self.seq = 0
        self.sent: list[bytes] = []  # every frame sent, in order (a test may send one again)
        self._stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    def now(self) -> dt.datetime:
        """The panel's clock (UTC, whole seconds, set by the last NAK)."""
        return (dt.datetime.now(dt.UTC) + self.clock_offset).replace(microsecond=0)

    def next_seq(self) -> int:
        """The sequence number of a new report: 1 to 9999, then 1 again."""
        self.seq = self.seq % 9999 + 1
        return self.seq

    def frame(self, report: Report, seq: int, at: dt.datetime | None = None) -> bytes:
        """The DC-09 frame of a report, encrypted when the dialer has a key."""
        acct = dc09_account.Account(acct=self.account, key=self.key)
        stamped = self.key is not None or self.stamp_plain
        timestamp = (at or self.now()) if stamped else None
        if report.data is None:
            built: Any = dc09_message.NullMessage(acct, timestamp, self.key is not None, seq)
        else:
            content = b"#%X|" % self.account + report.data
            data = (
                admcid.DataCid(content=content)
                if report.token == "ADM-CID"
                else siadcs.DataDcsGroup(content=content)
            )
            built = dc09_message.EventMessage(
                acct, config={"idtoken": report.token, "seqno": seq, "data": data}
            )
        return bytes(built.encode(seq=seq, timestamp=timestamp))

    async def send(self, report: Report, *, attempts: int = ATTEMPTS) -> Answer:
        """Report as a panel does: resent with the same number when unanswered, and after a NAK
        stamped by the receiver's clock; the ACK or DUH that ends it."""
        seq = self.next_seq()
        for _ in range(attempts):
            answer = await self.exchange(self.frame(report, seq))
            if answer is None:
                continue
            if answer.kind == "NAK":
                if answer.timestamp is not None:
                    self.clock_offset = answer.timestamp - dt.datetime.now(dt.UTC)
                continue
            return answer
        raise NoAnswerError(f"no ACK or DUH for #{self.account:X} seq {seq} in {attempts} tries")

    async def exchange(self, frame: bytes) -> Answer | None:
        """Send one frame as it is and wait for its answer; None if none came in time."""
        self.sent.append(frame)
        try:
            raw = await asyncio.wait_for(self._round_trip(frame), self.timeout_s)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            await self.close()  # a TCP connection that failed is opened again for the next
            return None
        return self.read_answer(raw)

    def read_answer(self, raw: bytes) -> Answer:
        """An answer frame, decrypted with the dialer's key when it is encrypted."""
        parsed = dc09_message.parse_frame(raw, self.key)
        return Answer(parsed.idtoken, parsed.seq, parsed.timestamp, raw)

    async def _round_trip(self, frame: bytes) -> bytes:
        if self.transport == "udp":
            return await _udp_round_trip(self.host, self.port, frame)
        if self._stream is None:
            self._stream = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._stream
        writer.write(frame)
        await writer.drain()
        answer = await reader.readuntil(b"\r")
        return answer[answer.find(b"\n") :]

    async def close(self) -> None:
        """Close the TCP connection, if one is open."""
        if self._stream is not None:
            _, writer = self._stream
            self._stream = None
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


async def _udp_round_trip(host: str, port: int, frame: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[bytes] = loop.create_future()

    class _Protocol(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            if not answered.done():
                answered.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(_Protocol, remote_addr=(host, port))
    try:
        transport.sendto(frame)
        return await answered
    finally:
        transport.close()
