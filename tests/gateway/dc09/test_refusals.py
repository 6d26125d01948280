"""Frames refused by the receiver: answered as DC-09 says, and every one kept with its reason."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from gateway.dc09.accounts import rotate_key
from simulators.dc09 import contact_id
from tests.gateway.conftest import events_of
from tests.gateway.dc09.conftest import ACCOUNT, WRONG_KEY, Receiving, rejects


async def test_a_wrong_key_is_answered_nak_and_kept(receiving: Receiving) -> None:
    dialer = receiving.dialer(key=WRONG_KEY)
    answer = await dialer.exchange(dialer.frame(contact_id("1101", zone=1), dialer.next_seq()))
    assert answer is not None and answer.kind == "NAK"
    (kept,) = await rejects(receiving.street.sessions)
    assert (kept.reason, kept.device_id, kept.raw) == (
        "undecryptable",
        receiving.street.terminal,
        dialer.sent[0],
    )
    assert await events_of(receiving.street.sessions, receiving.street.terminal) == []


async def test_a_rotated_key_is_taken_at_once_and_the_old_one_refused(
    receiving: Receiving,
) -> None:
    assert (await receiving.dialer().send(contact_id("1602"))).kind == "ACK"
    async with receiving.street.sessions() as session, session.begin():
        new_key = (await rotate_key(session, ACCOUNT, key=WRONG_KEY, actor="test")).key
    assert new_key == WRONG_KEY
    # The receiver's copy still holds the old key: the first frame that does not decrypt
    # makes it read the account again.
    assert (await receiving.dialer(key=WRONG_KEY).send(contact_id("1101"))).kind == "ACK"
    old = receiving.dialer()
    answer = await old.exchange(old.frame(contact_id("1101"), old.next_seq()))
    assert answer is not None and answer.kind == "NAK"
    assert [r.reason for r in await rejects(receiving.street.sessions)] == ["undecryptable"]


async def test_plain_and_encrypted_frames_must_match_the_account(receiving: Receiving) -> None:
    plain = receiving.dialer(key=None)
    answer = await plain.exchange(plain.frame(contact_id("1101"), plain.next_seq()))
    assert answer is not None and answer.kind == "DUH"
    (kept,) = await rejects(receiving.street.sessions)
    assert kept.reason == "encryption_required"
    assert await events_of(receiving.street.sessions, receiving.street.terminal) == []


async def test_an_unknown_account_is_answered_duh_and_kept(receiving: Receiving) -> None:
    dialer = receiving.dialer(account="ABCDEF")
    answer = await dialer.exchange(dialer.frame(contact_id("1101"), dialer.next_seq()))
    assert answer is not None and answer.kind == "DUH"
    (kept,) = await rejects(receiving.street.sessions)
    assert (kept.reason, kept.device_id) == ("unknown_account", None)
    assert "ABCDEF" in kept.detail


async def test_a_bad_crc_is_not_answered_and_kept(receiving: Receiving) -> None:
    dialer = receiving.dialer()
    good = dialer.frame(contact_id("1101", zone=1), 7)
    broken = good[:-3] + (b"0" if good[-3:-2] != b"0" else b"1") + good[-2:]
    reader, writer = await asyncio.open_connection("127.0.0.1", receiving.port)
    try:
        # DC-09 C.2.3.5: a frame with a bad CRC is not answered. On one connection the first
        # answer read is therefore the good frame's, sent after it.
        writer.write(broken + good)
        await writer.drain()
        answer = dialer.read_answer(await reader.readuntil(b"\r"))
    finally:
        writer.close()
        await writer.wait_closed()
    assert (answer.kind, answer.seq) == ("ACK", 7)
    kept = await rejects(receiving.street.sessions)
    assert [(r.reason, r.device_id, r.raw) for r in kept] == [
        ("bad_crc", receiving.street.terminal, broken)
    ]


async def test_a_frame_outside_the_window_is_naked_with_the_time_and_the_panel_follows_it(
    receiving: Receiving,
) -> None:
    dialer = receiving.dialer(transport="udp")
    dialer.clock_offset = dt.timedelta(minutes=-3)  # the panel's clock is behind
    answer = await dialer.send(contact_id("1101", zone=1))
    # NAKed with the receiver's time; the panel set its clock by it and sent it again.
    assert (answer.kind, answer.seq) == ("ACK", 1)
    assert abs(dialer.clock_offset.total_seconds()) < 5
    (kept,) = await rejects(receiving.street.sessions)
    assert (kept.reason, kept.device_id) == ("out_of_window", receiving.street.terminal)
    found = re.search(r"stamped (-?\d+) s", kept.detail)
    assert found is not None and abs(int(found[1]) + 180) <= 2
    (event,) = await events_of(receiving.street.sessions, receiving.street.terminal)
    assert event.type == "sos"


async def test_a_replayed_frame_is_refused_and_kept_and_records_nothing(
    receiving: Receiving,
) -> None:
    dialer = receiving.dialer()
    assert (await dialer.send(contact_id("1101", zone=1))).kind == "ACK"
    captured = dialer.sent[-1]
    receiving.clock.offset = dt.timedelta(minutes=5)  # later, the same bytes again
    answer = await dialer.exchange(captured)
    assert answer is not None and answer.kind == "NAK"
    # A frame merely stamped as long ago is out of its window, not a replay.
    stale = dialer.frame(contact_id("1101", zone=1), 2, at=dt.datetime.now(dt.UTC))
    answer = await dialer.exchange(stale)
    assert answer is not None and answer.kind == "NAK"
    kept = await rejects(receiving.street.sessions)
    assert [r.reason for r in kept] == ["replayed", "out_of_window"]
    assert kept[0].raw == captured
    events = await events_of(receiving.street.sessions, receiving.street.terminal)
    assert len(events) == 1
