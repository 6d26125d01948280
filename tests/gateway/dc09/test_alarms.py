"""A panel's alarms over DC-09 go through the one ingest path: recorded once, then ACKed."""

from __future__ import annotations

from typing import Literal

import pytest

from simulators.dc09 import contact_id, sia
from tests.gateway.conftest import events_of
from tests.gateway.dc09.conftest import Receiving, add_account, rejects

TRANSPORTS: list[Literal["tcp", "udp"]] = ["tcp", "udp"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_personal_emergency_is_recorded_as_an_sos_then_acked_encrypted(
    receiving: Receiving, transport: Literal["tcp", "udp"]
) -> None:
    dialer = receiving.dialer(transport=transport)
    answer = await dialer.send(contact_id("1101", zone=1))
    assert (answer.kind, answer.seq) == ("ACK", 1)
    assert b'"*ACK"' in answer.frame  # the answer to an encrypted frame is encrypted
    # Recorded before the ACK went out: no waiting for it.
    (event,) = await events_of(receiving.street.sessions, receiving.street.terminal)
    assert (event.type, event.transport) == ("sos", "dc09")
    assert event.payload["button"] == "main"
    assert event.message_id.startswith("dc09-0001-1101-1-")
    assert event.device_ts is not None


async def test_a_resent_report_is_recorded_once_and_acked_each_time(
    receiving: Receiving,
) -> None:
    dialer = receiving.dialer()
    seq = dialer.next_seq()
    first = await dialer.exchange(dialer.frame(contact_id("1100", zone=2), seq))
    # The panel heard no ACK and sends it again: same number, stamped anew, padded anew.
    again = await dialer.exchange(dialer.frame(contact_id("1100", zone=2), seq))
    assert first is not None and again is not None
    assert (first.kind, again.kind) == ("ACK", "ACK")
    assert dialer.sent[0] != dialer.sent[1]
    events = await events_of(receiving.street.sessions, receiving.street.terminal)
    assert [e.type for e in events] == ["sos"]


async def test_a_fall_detector_and_a_sia_medical_alarm_become_fall_and_sos(
    receiving: Receiving,
) -> None:
    dialer = receiving.dialer(transport="udp")
    assert (await dialer.send(contact_id("1103", zone=4))).kind == "ACK"
    assert (await dialer.send(sia("MA", zone=1))).kind == "ACK"
    events = await events_of(receiving.street.sessions, receiving.street.terminal)
    assert [(e.type, e.payload.get("confidence")) for e in events] == [
        ("fall", 1.0),
        ("sos", None),
    ]


async def test_a_general_alarm_is_a_fall_only_where_the_account_says_the_panel_reports_so(
    receiving: Receiving,
) -> None:
    sessions, street = receiving.street.sessions, receiving.street
    answer = await receiving.dialer().send(contact_id("1140", zone=3))
    assert answer.kind == "DUH"
    (kept,) = await rejects(sessions)
    assert (kept.reason, kept.device_id) == ("unmapped_code", street.terminal)
    assert "1140 (General Alarm)" in kept.detail

    await add_account(sessions, street.terminal_2, "5678", falls_as_general_alarm=True)
    plain = receiving.dialer(key=None, account="5678")
    assert (await plain.send(contact_id("1140", zone=3))).kind == "ACK"
    (event,) = await events_of(sessions, street.terminal_2)
    assert event.type == "fall"


async def test_codes_unknown_or_not_taken_here_are_answered_duh_and_kept_with_their_reason(
    receiving: Receiving,
) -> None:
    dialer = receiving.dialer()
    assert (await dialer.send(contact_id("1110", zone=1))).kind == "DUH"  # fire
    assert (await dialer.send(contact_id("1999", zone=1))).kind == "DUH"
    assert (await dialer.send(sia("ZZ", zone=1))).kind == "DUH"
    kept = await rejects(receiving.street.sessions)
    assert [(r.reason, r.transport, r.device_id) for r in kept] == [
        ("unmapped_code", "dc09", receiving.street.terminal),
        ("unknown_code", "dc09", receiving.street.terminal),
        ("unknown_code", "dc09", receiving.street.terminal),
    ]
    assert "1110 (Fire)" in kept[0].detail
    assert kept[0].raw == dialer.sent[0]
    assert await events_of(receiving.street.sessions, receiving.street.terminal) == []
