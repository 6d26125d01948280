"""A user's cancel on a panel (Contact ID 406, SIA OC) is the protocol's `cancel`, through the one
ingest path: recorded, then ACKed, naming the panel's last alarm."""

from __future__ import annotations

from typing import Literal

import pytest

from simulators.dc09 import contact_id, sia
from tests.gateway.conftest import events_of
from tests.gateway.dc09.conftest import Receiving, rejects


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_a_contact_id_cancel_is_recorded_as_the_cancel_of_the_panels_last_alarm(
    receiving: Receiving, transport: Literal["tcp", "udp"]
) -> None:
    dialer = receiving.dialer(transport=transport)
    assert (await dialer.send(contact_id("1100", zone=1))).kind == "ACK"
    answer = await dialer.send(contact_id("1406", zone=7))  # user 7 cancelled
    assert (answer.kind, answer.seq) == ("ACK", 2)
    # Recorded before the ACK went out.
    sos, cancel = await events_of(receiving.street.sessions, receiving.street.terminal)
    assert (cancel.type, cancel.transport) == ("cancel", "dc09")
    assert cancel.payload["ref"] == sos.message_id
    assert cancel.message_id.startswith("dc09-0002-1406-7-")
    assert await rejects(receiving.street.sessions) == []


async def test_a_sia_cancel_report_names_the_last_alarm_a_fall_as_well(
    receiving: Receiving,
) -> None:
    dialer = receiving.dialer()
    assert (await dialer.send(sia("MA", zone=1))).kind == "ACK"
    assert (await dialer.send(contact_id("1103", zone=4))).kind == "ACK"
    assert (await dialer.send(sia("OC", zone=2))).kind == "ACK"
    events = await events_of(receiving.street.sessions, receiving.street.terminal)
    assert [e.type for e in events] == ["sos", "fall", "cancel"]
    assert events[2].payload["ref"] == events[1].message_id


async def test_a_cancel_with_no_alarm_before_it_is_recorded_and_acked_naming_none(
    receiving: Receiving,
) -> None:
    dialer = receiving.dialer()
    assert (await dialer.send(contact_id("1406", zone=1))).kind == "ACK"
    (cancel,) = await events_of(receiving.street.sessions, receiving.street.terminal)
    assert (cancel.type, cancel.payload["ref"]) == ("cancel", "dc09-no-alarm")
    assert await rejects(receiving.street.sessions) == []


async def test_cancels_of_other_alarms_stay_unmapped(receiving: Receiving) -> None:
    dialer = receiving.dialer()
    assert (await dialer.send(sia("BC", zone=1))).kind == "DUH"  # burglary cancel
    assert (await dialer.send(contact_id("1647", zone=1))).kind == "DUH"  # extra help not needed
    kept = await rejects(receiving.street.sessions)
    assert [r.reason for r in kept] == ["unmapped_code", "unmapped_code"]
    assert await events_of(receiving.street.sessions, receiving.street.terminal) == []
