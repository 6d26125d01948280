"""SIA DC-09 frames in and answers out, on the siadc09 library (DC-09-2026).

The library parses a frame (CRC, length, the AES-CBC decryption with the account's key, the
ADM-CID and SIA-DCS data) and encodes every answer (ACK, encrypted when the frame was; NAK with
the receiver's time; DUH). What it leaves to a receiver is done here, and nothing here does I/O:
checking the frame before knowing whose it is (framing, CRC and length, then the header read to
find the account and its key), refusing a decryption that only looks like one (a wrong key
yields bytes the library still reads as a frame more often than not), and the timestamp window.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import logging
import re
from typing import Any

from siadc09 import account as dc09_account
from siadc09 import admcid, dc09, siadcs, util
from siadc09 import message as dc09_message

from gateway.dc09.codes import Event, contact_id_name, sia_name

# siadc09 sets its own loggers to DEBUG when imported, and their lines (every refused frame's
# parts) would reach the process's log: back to the level the rest of the gateway logs at.
for _name in ("siadc09.message", "siadc09.siadcs"):
    logging.getLogger(_name).setLevel(logging.INFO)

# DC-09 5.5.1.9: a message stamped more than 20 s ahead of the receiver's clock or more than 40 s
# behind it fails the timestamp test (the library's constants).
AHEAD_S = dc09.MAXDIFF
BEHIND_S = -dc09.MINDIFF
NULL_TOKENS = frozenset({"NULL", "XNM"})  # link tests: a null message and the extended one
EVENT_TOKENS = frozenset({"ADM-CID", "SIA-DCS"})
# The longest frame: a length field of three hex digits, the header, LF and CR.
MAX_FRAME_BYTES = 0xFFF + 10
# SIA-DCS blocks that carry events: new and old (reported late) events.
_EVENT_BLOCKS = ("N", "O")

_HEADER = re.compile(
    rb'"(?P<star>\*?)(?P<token>[^"]{1,16})"(?P<seq>[0-9]{4})'
    rb"(?:R(?P<rcvr>[0-9A-Fa-f]{1,6}))?L(?P<pref>[0-9A-Fa-f]{1,6})#(?P<acct>[0-9A-Fa-f]{1,16})\["
)


class Fault(enum.StrEnum):
    """Why a frame is refused: the reason its reject is kept under."""

    BAD_FRAME = "bad_frame"  # not a DC-09 frame (envelope, header): not answered
    BAD_CRC = "bad_crc"  # not answered: DC-09 C.2.3.5, the panel resends it
    BAD_LENGTH = "bad_length"  # not answered, as a CRC error
    UNKNOWN_ACCOUNT = "unknown_account"  # DUH
    ENCRYPTION_REQUIRED = "encryption_required"  # a plain frame for an account with a key: DUH
    NO_KEY = "no_key"  # an encrypted frame for a plain account: DUH
    UNDECRYPTABLE = "undecryptable"  # a wrong key (no readable content or timestamp): NAK
    UNREADABLE = "unreadable"  # a plain frame whose data cannot be read: DUH
    UNSUPPORTED = "unsupported_format"  # a DC-09 token this receiver does not take: DUH
    OUT_OF_WINDOW = "out_of_window"  # the timestamp test failed: NAK, with the receiver's time
    REPLAYED = "replayed"  # a copy of a frame accepted earlier, its window past: NAK


# What the frame's sender is answered, per fault (None: nothing, as DC-09 asks for CRC errors).
ANSWER: dict[Fault, str | None] = {
    Fault.BAD_FRAME: None,
    Fault.BAD_CRC: None,
    Fault.BAD_LENGTH: None,
    Fault.UNKNOWN_ACCOUNT: "DUH",
    Fault.ENCRYPTION_REQUIRED: "DUH",
    Fault.NO_KEY: "DUH",
    Fault.UNDECRYPTABLE: "NAK",
    Fault.UNREADABLE: "DUH",
    Fault.UNSUPPORTED: "DUH",
    Fault.OUT_OF_WINDOW: "NAK",
    Fault.REPLAYED: "NAK",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Refused:
    """A frame refused, why, and in words what is wrong (never the frame's content)."""

    fault: Fault
    detail: str


@dataclasses.dataclass(frozen=True, slots=True)
class Header:
    """The unencrypted head of a frame: enough to find the account and answer it."""

    token: str  # "ADM-CID", "SIA-DCS", "NULL", ...
    encrypted: bool
    seq: int
    account: str  # canonical: upper-case hex, no leading zeros, at least three digits
    pref: int | None
    rcvr: int | None

    def dc09_account(self, key: bytes | None = None) -> Any:
        """The library's account context of this frame (for answers)."""
        return dc09_account.Account(
            acct=int(self.account, 16), pref=self.pref, rcvr=self.rcvr, key=key
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Frame:
    """A frame read whole: its header, the panel's time, and its events in the order sent."""

    header: Header
    timestamp: dt.datetime | None
    standard: str  # "ADM-CID", "SIA-DCS" or the null token
    events: tuple[Event, ...]
    unknown_blocks: tuple[str, ...]  # SIA-DCS event blocks whose code no table knows
    content: bytes  # the data as sent (decrypted): what a retransmission repeats
    message: Any  # the library's Message, to answer it


def canonical_account(text: str) -> str:
    """An account number as the receiver keys it: `#0001234` and `#1234` are one account."""
    return f"{int(text, 16):03X}"


def check(frame: bytes) -> Header | Refused:
    """The header of a frame whose envelope, CRC and length are right."""
    if len(frame) < 12 or frame[:1] != b"\n" or frame[-1:] != b"\r" or len(frame) > MAX_FRAME_BYTES:
        return Refused(Fault.BAD_FRAME, "not an LF ... CR frame of a DC-09 size")
    body = frame[9:-1]
    try:
        sent_crc, sent_length = int(frame[1:5], 16), int(frame[5:9], 16)
    except ValueError:
        return Refused(Fault.BAD_FRAME, "CRC or length field is not hexadecimal")
    if util.crc(body) != sent_crc:
        return Refused(Fault.BAD_CRC, f"CRC {util.crc(body):04X} computed, {sent_crc:04X} sent")
    if len(body) != sent_length:
        return Refused(Fault.BAD_LENGTH, f"{len(body)} bytes, {sent_length} announced")
    found = _HEADER.match(body)
    if found is None:
        return Refused(Fault.BAD_FRAME, "no ID token, sequence, prefix and account header")
    rcvr, pref = found["rcvr"], found["pref"]
    return Header(
        token=found["token"].decode("ascii", "replace"),
        encrypted=bool(found["star"]),
        seq=int(found["seq"]),
        account=canonical_account(found["acct"].decode("ascii")),
        pref=None if pref == b"0" else int(pref, 16),
        rcvr=None if rcvr is None else int(rcvr, 16),
    )


def account_in(frame: bytes) -> str | None:
    """The account a frame names, if its header can be read at all (for a refused frame)."""
    found = _HEADER.search(frame)
    return None if found is None else canonical_account(found["acct"].decode("ascii"))


def read(frame: bytes, header: Header, key: bytes | None) -> Frame | Refused:
    """The frame's content, decrypted with the account's key when it is encrypted.

    An encrypted frame whose content does not read as DC-09 with a timestamp, or names another
    account inside, was not encrypted with this key: UNDECRYPTABLE.
    """
    wrong = Fault.UNDECRYPTABLE if header.encrypted else Fault.UNREADABLE
    if header.token not in NULL_TOKENS | EVENT_TOKENS:
        return Refused(Fault.UNSUPPORTED, f"message type {header.token!r} is not taken here")
    try:
        parsed = dc09_message.parse_frame(frame, key if header.encrypted else None)
    except Exception as error:
        # The library raises TypeError, ValueError or RuntimeError for what it cannot read (and
        # whatever a garbled decryption trips on): the frame is refused, never the receiver.
        return Refused(wrong, f"content cannot be read ({type(error).__name__})")
    if header.encrypted and parsed.timestamp is None:
        return Refused(wrong, "encrypted content without a timestamp")
    if header.token in NULL_TOKENS:
        return Frame(header, parsed.timestamp, header.token, (), (), b"", parsed)
    if header.token == "ADM-CID":
        return _contact_id(header, parsed, wrong)
    return _sia(header, parsed, wrong)


def _contact_id(header: Header, parsed: Any, wrong: Fault) -> Frame | Refused:
    data = parsed.data
    if not isinstance(data, admcid.DataCid) or data.event is None:
        return Refused(wrong, "no Contact ID event in the data")
    if not _same_account(header, data.acct):
        return Refused(wrong, "the data names another account")
    cid = data.event
    code = f"{cid.qualifier}{cid.code}"
    event = Event(code=code, zone=cid.addr, name=contact_id_name(cid.code))
    return Frame(header, parsed.timestamp, "ADM-CID", (event,), (), bytes(data.content), parsed)


def _sia(header: Header, parsed: Any, wrong: Fault) -> Frame | Refused:
    data = parsed.data
    if not isinstance(data, siadcs.DataDcsGroup):
        return Refused(wrong, "no SIA data group")
    events: list[Event] = []
    unknown: list[str] = []
    for block in data.blocks:
        if block.functioncode == "#":
            if not _same_account(header, block):
                return Refused(wrong, "the data names another account")
        elif isinstance(block, siadcs.DcsInfo) and block.functioncode in _EVENT_BLOCKS:
            events += [
                Event(code=str(e.code), zone=_zone(e.addr), name=sia_name(str(e.code)))
                for e in block.events
            ]
        elif block.functioncode in _EVENT_BLOCKS:
            # The library reads an event block it finds no code of as a bare block.
            unknown.append(bytes(block.content).decode("ascii", "replace")[:16])
    if not events and not unknown:
        return Refused(wrong, "no SIA event in the data")
    content = bytes(data.content)
    return Frame(
        header, parsed.timestamp, "SIA-DCS", tuple(events), tuple(unknown), content, parsed
    )


def _same_account(header: Header, block: Any) -> bool:
    """Whether an `#acct` block inside the data (if there is one) names the header's account."""
    if block is None:
        return True
    try:
        return canonical_account(bytes(block.content).decode("ascii")) == header.account
    except (ValueError, UnicodeDecodeError):
        return False


def _zone(addr: object) -> int | None:
    return addr if isinstance(addr, int) else None


def in_window(timestamp: dt.datetime, now: dt.datetime) -> bool:
    """DC-09's timestamp test: no more than AHEAD_S ahead of `now` nor BEHIND_S behind it."""
    offset = (timestamp - now).total_seconds()
    return -BEHIND_S <= offset <= AHEAD_S


def ack(frame: Frame, key: bytes | None, now: dt.datetime) -> bytes:
    """The positive acknowledgement: encrypted, with the receiver's time, when the frame was."""
    account = frame.header.dc09_account(key if frame.header.encrypted else None)
    timestamp = now.replace(microsecond=0) if frame.header.encrypted else None
    answer = dc09_message.AckMessage(account, frame.header.seq, timestamp, frame.header.encrypted)
    return bytes(answer.encode(encrypt=frame.header.encrypted))


def nak(header: Header | None, now: dt.datetime) -> bytes:
    """The negative acknowledgement, never encrypted, with the receiver's time (the panel may
    set its clock by it and send again)."""
    account = header.dc09_account() if header is not None else dc09_account.Account()
    return bytes(dc09_message.NakMessage(account, now.replace(microsecond=0)).encode())


def duh(header: Header) -> bytes:
    """The "unable" acknowledgement: understood, but not taken here (the panel may try its
    backup receiver)."""
    return bytes(dc09_message.DuhMessage(header.dc09_account(), header.seq).encode())
