"""The DC-09 receiver's rules: a frame in, the answer out, its events into the one ingest path.

A panel's alarm becomes the protocol's `sos` or `fall`, a user's cancel of it (Contact ID 406,
SIA OC) the protocol's `cancel`, and each goes through `Ingest.handle` like a terminal's over MQTT
or WebSocket: the same registry, deduplication, record-then-acknowledge and alarm engine. The ACK goes back once `Ingest` has recorded it, never before. A link test (NULL)
or any other accepted frame is a sign of life: the device's presence, as a heartbeat sets it.
What a panel reports of itself (its periodic test, mains and battery troubles) is kept with its
account for maintenance. Everything refused is kept in the gateway's rejects, with its reason,
and answered as DC-09 says (frames.ANSWER); a frame the receiver fails on is answered nothing,
so the panel sends it again.

Retransmissions: a panel that heard no ACK sends the same message again with the same sequence
number, stamped anew. A message of one account, sequence number and content seen within
RETRANSMISSION_S keeps the message id it first had, so `Ingest` records it once and acks every
copy (DC-09 C.2.3.7: "received only once").
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import metrics
from gateway.dc09 import codes, frames, repository
from gateway.dc09.codes import Meaning, Unhandled
from gateway.dc09.frames import Fault, Frame, Header, Refused
from gateway.dc09.metrics import ANSWERS, FRAMES
from gateway.dc09.schemas import AccountInfo
from gateway.ingest.schemas import Inbound
from gateway.ingest.service import Ingest, RecentKeys
from gateway.ingest.tasks import BatchWriter
from kernel.database import write_turn
from kernel.models import RAW_KEPT_BYTES, utcnow

log = logging.getLogger(__name__)

TRANSPORT = "dc09"  # device_events.transport and rejected_messages.transport
# A panel retries an unacknowledged message for minutes; a copy within this long is the same one.
RETRANSMISSION_S = 600.0
RETRANSMISSIONS_KEPT = 50_000
# Frames accepted lately, by digest: a byte-for-byte copy of one after its window is a replay.
ACCEPTED_FRAMES_KEPT = 50_000
# An account number that is not registered is looked up again only after this long.
UNKNOWN_RETRY_S = 30.0
# A panel's cancel names the last alarm it reported (codes.Meaning.CANCEL); this, when it has none.
NO_ALARM = "dc09-no-alarm"
# Why a frame the receiver failed on is kept (no answer: the panel sends it again).
UNPROCESSABLE = "unprocessable"

Clock = Callable[[], dt.datetime]


class AccountBook:
    """The DC-09 accounts by number, loaded whole and refreshed; a miss is looked up once."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._accounts: dict[str, AccountInfo] = {}
        self._unknown_until: dict[str, float] = {}

    async def load(self) -> int:
        """Read every account (also the periodic refresh); returns how many."""
        async with self._sessions() as session:
            found = await repository.all_accounts(session)
        self._accounts = {info.account: info for info in found}
        self._unknown_until.clear()
        return len(self._accounts)

    async def get(self, account: str) -> AccountInfo | None:
        """The account, or None if it is not registered."""
        info = self._accounts.get(account)
        if info is not None or self._unknown_until.get(account, 0.0) > time.monotonic():
            return info
        info = await self.reread(account)
        if info is None:
            self._unknown_until[account] = time.monotonic() + UNKNOWN_RETRY_S
        return info

    async def reread(self, account: str) -> AccountInfo | None:
        """The account as the database has it now (a key rotated since the copy was made)."""
        async with self._sessions() as session:
            info = await repository.account_info(session, account)
        if info is None:
            self._accounts.pop(account, None)
        else:
            self._accounts[account] = info
        return info


class AlarmReceiver:
    """Takes DC-09 frames from either transport and says what to answer."""

    def __init__(
        self,
        accounts: AccountBook,
        ingest: Ingest,
        writer: BatchWriter,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.accounts = accounts
        self._ingest = ingest
        self._writer = writer
        self._sessions = sessions
        self._clock = clock
        self._first_seen: collections.OrderedDict[tuple[Any, ...], dt.datetime] = (
            collections.OrderedDict()
        )
        self._accepted = RecentKeys(ACCEPTED_FRAMES_KEPT)

    async def take(self, frame: bytes, transport: str, peer: str) -> bytes | None:
        """One frame; the answer for its sender, or None where DC-09 says to send none.

        Never raises for the frame: one the receiver fails on is kept as a reject
        (`unprocessable`) and answered nothing, so the panel sends it again.
        """
        received_at = self._clock()
        FRAMES.labels(transport).inc()
        try:
            answer = await self._take(frame, transport, peer, received_at)
        except Exception as error:
            log.exception("DC-09 frame from %s could not be processed", peer)
            metrics.UNPROCESSABLE.labels(type(error).__name__).inc()
            detail = f"could not be processed ({type(error).__name__})"
            try:
                await self._keep(frame, transport, peer, None, UNPROCESSABLE, detail, received_at)
            except (SQLAlchemyError, OSError):
                log.exception("DC-09 frame from %s not kept either", peer)
            answer = None
        ANSWERS.labels(_answer_kind(answer)).inc()
        return answer

    async def _take(
        self, frame: bytes, transport: str, peer: str, received_at: dt.datetime
    ) -> bytes | None:
        header = frames.check(frame)
        if isinstance(header, Refused):
            named = frames.account_in(frame)
            known = await self.accounts.get(named) if named is not None else None
            device = known.device_id if known is not None else None
            await self._refuse(frame, transport, peer, device, header, received_at)
            return _refusal_answer(header.fault, None, received_at)
        account = await self.accounts.get(header.account)
        if account is None:
            refusal = Refused(Fault.UNKNOWN_ACCOUNT, f"account {header.account} is not registered")
            await self._refuse(frame, transport, peer, None, refusal, received_at)
            return _refusal_answer(refusal.fault, header, received_at)
        mismatch = _encryption_mismatch(header, account)
        if mismatch is not None:
            await self._refuse(frame, transport, peer, account.device_id, mismatch, received_at)
            return _refusal_answer(mismatch.fault, header, received_at)
        read = frames.read(frame, header, account.key)
        if isinstance(read, Refused) and read.fault is Fault.UNDECRYPTABLE:
            # The installer may have rotated the key since the copy was made: the database's.
            fresh = await self.accounts.reread(header.account)
            if fresh is not None and fresh.key is not None and fresh.key != account.key:
                account, read = fresh, frames.read(frame, header, fresh.key)
        if isinstance(read, Refused):
            await self._refuse(frame, transport, peer, account.device_id, read, received_at)
            return _refusal_answer(read.fault, header, received_at)
        digest = (account.account, hashlib.sha256(frame).hexdigest())
        if read.timestamp is not None and not frames.in_window(read.timestamp, received_at):
            refusal = _outside_window(read, received_at, replayed=digest in self._accepted)
            await self._refuse(frame, transport, peer, account.device_id, refusal, received_at)
            return _refusal_answer(refusal.fault, header, received_at)
        self._accepted.add(digest)
        # Any frame accepted is a sign of life: DC-09 restarts the supervision timer on it.
        self._writer.add_presence(account.device_id, online=True, last_seen_at=received_at)
        if read.standard in frames.NULL_TOKENS:
            metrics.messages_in("heartbeat").inc()
            return frames.ack(read, account.key, received_at)
        taken = await self._events(read, account, transport, peer, frame, received_at)
        return frames.ack(read, account.key, received_at) if taken else frames.duh(header)

    async def _events(
        self,
        read: Frame,
        account: AccountInfo,
        transport: str,
        peer: str,
        frame: bytes,
        received_at: dt.datetime,
    ) -> bool:
        """Hand on every event of the frame; False when one was not taken (the answer is then
        DUH, so that the panel's backup path takes what this receiver could not)."""
        taken = True
        reports: dict[str, Any] = {}
        for index, event in enumerate(read.events):
            meaning = _meaning(read.standard, event, account)
            if isinstance(meaning, Unhandled):
                taken = False
                what = event.name or "not a code of the standard"
                detail = f"{read.standard} {event.code} ({what}), zone {event.zone}"
                await self._keep(
                    frame, transport, peer, account.device_id, meaning.value, detail, received_at
                )
            elif meaning in codes.CALLS:
                taken = (
                    await self._call(read, account, event, index, meaning, received_at) and taken
                )
            else:
                reports.update(_report(meaning, event, received_at))
        for block in read.unknown_blocks:
            taken = False
            detail = f"SIA-DCS block {block!r}: no code of the standard"
            await self._keep(
                frame, transport, peer, account.device_id, Unhandled.UNKNOWN.value, detail,
                received_at,
            )  # fmt: skip
        if reports:
            async with write_turn(self._sessions), self._sessions() as session, session.begin():
                await repository.apply_reports(session, account.account, reports)
        return taken

    async def _call(
        self,
        read: Frame,
        account: AccountInfo,
        event: codes.Event,
        index: int,
        meaning: Meaning,
        received_at: dt.datetime,
    ) -> bool:
        """Record the alarm or cancel through the ingest path; True once it is recorded (not
        refused)."""
        first = self._first_seen_at(
            (account.account, read.header.seq, read.standard, read.content, index), received_at
        )
        message_id = f"dc09-{read.header.seq:04d}-{event.code}-{event.zone}-{first:%Y%m%d%H%M%S%f}"
        if index:
            message_id += f"-{index}"
        body: dict[str, Any] = {"v": 1, "id": message_id[:64], "type": meaning.value}
        if read.timestamp is not None:
            body["ts"] = read.timestamp.isoformat()
        if meaning is Meaning.SOS:
            body["button"] = "main"
        elif meaning is Meaning.FALL:
            body["confidence"] = 1.0  # a panel's fall detector reports a fall, no likelihood
        else:
            body["ref"] = await self._cancelled_alarm(account.device_id)
        inbound = Inbound(
            TRANSPORT, account.device_id, None, json.dumps(body).encode(), received_at
        )
        answers = await self._ingest.handle(inbound)
        return any(json.loads(answer).get("status") == "received" for answer in answers)

    async def _cancelled_alarm(self, device_id: str) -> str:
        """The `ref` of a panel's cancel: its last alarm's message id. A 406 names no alarm (only
        the user), and the call centre finds the case by device and elder, not by this id; it is
        the timeline's and the reviewer's. A panel that never reported one cancels nothing."""
        async with self._sessions() as session:
            found = await repository.last_alarm_id(session, device_id, TRANSPORT)
        return found or NO_ALARM

    def _first_seen_at(self, key: tuple[Any, ...], now: dt.datetime) -> dt.datetime:
        """When this message was first received, if within RETRANSMISSION_S; else now."""
        kept = self._first_seen.get(key)
        if kept is not None and (now - kept).total_seconds() <= RETRANSMISSION_S:
            return kept
        self._first_seen[key] = now
        self._first_seen.move_to_end(key)
        while self._first_seen and (
            len(self._first_seen) > RETRANSMISSIONS_KEPT
            or (now - next(iter(self._first_seen.values()))).total_seconds() > RETRANSMISSION_S
        ):
            self._first_seen.popitem(last=False)
        return now

    async def _refuse(
        self,
        frame: bytes,
        transport: str,
        peer: str,
        device_id: str | None,
        refusal: Refused,
        received_at: dt.datetime,
    ) -> None:
        log.warning("DC-09 frame from %s refused: %s", peer, refusal.fault.value)
        await self._keep(
            frame, transport, peer, device_id, refusal.fault.value, refusal.detail, received_at
        )

    async def _keep(
        self,
        frame: bytes,
        transport: str,
        peer: str,
        device_id: str | None,
        reason: str,
        detail: str,
        received_at: dt.datetime,
    ) -> None:
        """Keep a refused frame (or event) in the gateway's rejects, counted by reason."""
        metrics.REJECTS.labels(reason).inc()
        row = {
            "received_at": received_at,
            "transport": TRANSPORT,
            "topic": f"{transport} from {peer}"[:255],
            "device_id": device_id,
            "reason": reason,
            "detail": detail,
            "size": len(frame),
            "raw": frame[:RAW_KEPT_BYTES],
        }
        async with write_turn(self._sessions), self._sessions() as session, session.begin():
            repository.record_reject(session, row)


def _encryption_mismatch(header: Header, account: AccountInfo) -> Refused | None:
    if header.encrypted and account.key is None:
        return Refused(Fault.NO_KEY, f"encrypted frame for plain account {account.account}")
    if not header.encrypted and account.key is not None:
        return Refused(
            Fault.ENCRYPTION_REQUIRED, f"plain frame for encrypted account {account.account}"
        )
    return None


def _refusal_answer(fault: Fault, header: Header | None, now: dt.datetime) -> bytes | None:
    """The answer DC-09 gives a refused frame (frames.ANSWER); a DUH echoes the frame's header,
    so a frame without a readable one gets none."""
    kind = frames.ANSWER[fault]
    if kind == "NAK":
        return frames.nak(header, now)
    return frames.duh(header) if kind == "DUH" and header is not None else None


def _outside_window(read: Frame, now: dt.datetime, *, replayed: bool) -> Refused:
    assert read.timestamp is not None
    offset = (read.timestamp - now).total_seconds()
    if replayed:
        return Refused(
            Fault.REPLAYED, f"a copy of a frame accepted before, stamped {offset:+.0f} s"
        )
    return Refused(
        Fault.OUT_OF_WINDOW,
        f"stamped {offset:+.0f} s from the receiver's clock "
        f"(-{frames.BEHIND_S} s to +{frames.AHEAD_S} s allowed)",
    )


def _meaning(standard: str, event: codes.Event, account: AccountInfo) -> Meaning | Unhandled:
    if standard == "ADM-CID":
        return codes.contact_id(
            event.code[:1], event.code[1:], falls_as_general_alarm=account.falls_as_general_alarm
        )
    return codes.sia(event.code, falls_as_general_alarm=account.falls_as_general_alarm)


def _report(meaning: Meaning, event: codes.Event, now: dt.datetime) -> dict[str, Any]:
    """The account columns a panel's report of itself sets."""
    if meaning is Meaning.MAINS_LOST:
        return {"mains_lost_since": now}
    if meaning is Meaning.MAINS_RESTORED:
        return {"mains_lost_since": None}
    if meaning is Meaning.BATTERY_LOW:
        return {"battery_low_since": now}
    if meaning is Meaning.BATTERY_RESTORED:
        return {"battery_low_since": None}
    if meaning is Meaning.TEST_PASSED:
        return {"last_test_at": now, "test_failed_at": None, "test_failure": None}
    if meaning is Meaning.TEST_FAILED:
        failure = (event.name or event.code)[:64]
        return {"last_test_at": now, "test_failed_at": now, "test_failure": failure}
    return {}  # an alarm's restore: its zone is quiet again, nothing to keep


def _answer_kind(answer: bytes | None) -> str:
    if answer is None:
        return "none"
    for kind in ("ACK", "NAK", "DUH"):
        if f'"{kind}"'.encode() in answer or f'"*{kind}"'.encode() in answer:
            return kind.lower()
    return "other"
