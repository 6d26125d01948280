"""The DC-09 dialer: frames as the standard reads them, and a panel's way with silence and NAKs."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, cast

from siadc09 import account as dc09_account
from siadc09 import message as dc09_message

from simulators.dc09 import NULL, Dialer, contact_id, sia
from tests.conftest import free_port

KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")


def test_frames_read_back_as_dc09_with_account_number_data_and_time() -> None:
    plain = Dialer("127.0.0.1", 1, "001234", stamp_plain=False)
    frame = dc09_message.parse_frame(plain.frame(contact_id("1101", zone=1), 42))
    assert (frame.idtoken, frame.seq, frame.account.acct, frame.encrypted) == (
        "ADM-CID", 42, 0x1234, False,
    )  # fmt: skip
    assert (frame.data.event.qualifier, frame.data.event.code, frame.data.event.addr) == (
        "1", "101", 1,
    )  # fmt: skip
    assert frame.timestamp is None

    secret = Dialer("127.0.0.1", 1, "1234", KEY)
    at = dt.datetime(2026, 12, 4, 8, 15, 30, tzinfo=dt.UTC)
    frame = dc09_message.parse_frame(secret.frame(sia("MA", zone=2), 7, at), KEY)
    assert (frame.idtoken, frame.encrypted, frame.timestamp) == ("SIA-DCS", True, at)
    (event,) = frame.data.blocks[1].events
    assert (event.code, event.addr) == ("MA", 2)
    assert dc09_message.parse_frame(secret.frame(NULL, 8), KEY).idtoken == "NULL"


def test_sequence_numbers_run_from_1_to_9999_and_wrap_to_1() -> None:
    dialer = Dialer("127.0.0.1", 1, "1234")
    assert [dialer.next_seq() for _ in range(2)] == [1, 2]
    dialer.seq = 9998
    assert [dialer.next_seq() for _ in range(3)] == [9999, 1, 2]


class _Receiver(asyncio.DatagramProtocol):
    """Ignores the first frame, NAKs the second with a clock an hour ahead, ACKs the rest."""

    def __init__(self) -> None:
        self.frames: list[Any] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.ahead = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        frame = dc09_message.parse_frame(data, KEY)
        self.frames.append(frame)
        account = dc09_account.Account(acct=frame.account.acct, key=KEY)
        if len(self.frames) == 1:
            return
        if len(self.frames) == 2:
            answer = dc09_message.NakMessage(dc09_account.Account(), self.ahead).encode()
        else:
            answer = dc09_message.AckMessage(account, frame.seq, self.ahead, True).encode()
        assert self.transport is not None
        self.transport.sendto(answer, addr)


async def test_an_unanswered_report_goes_again_with_its_number_and_a_nak_sets_the_clock() -> None:
    port = free_port()
    loop = asyncio.get_running_loop()
    transport, receiver = await loop.create_datagram_endpoint(
        _Receiver, local_addr=("127.0.0.1", port)
    )
    try:
        dialer = Dialer("127.0.0.1", port, "1234", KEY, transport="udp", timeout_s=0.5)
        answer = await dialer.send(contact_id("1101"))
    finally:
        transport.close()
    assert (answer.kind, answer.seq) == ("ACK", 1)
    assert [f.seq for f in receiver.frames] == [1, 1, 1]
    # Stamped by the panel's clock, then by the receiver's after its NAK.
    assert abs((receiver.frames[0].timestamp - dt.datetime.now(dt.UTC)).total_seconds()) < 5
    assert receiver.frames[2].timestamp >= receiver.ahead
