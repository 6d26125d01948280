"""A panel's periodic test, its failures and its mains and battery troubles, kept per device;
the report of the panels whose test is overdue or failed."""

from __future__ import annotations

import datetime as dt

from gateway.dc09 import repository
from kernel.models import AlarmReceiverAccount
from simulators.dc09 import contact_id, sia
from tests.gateway.conftest import Sessions, events_of
from tests.gateway.dc09.conftest import ACCOUNT, Receiving, account_row, add_account

DAY = dt.timedelta(days=1)


async def _report(sessions: Sessions, now: dt.datetime, *, overdue_only: bool) -> list[str]:
    async with sessions() as session:
        rows = await repository.self_tests(session, now, overdue_only=overdue_only)
    return [row.device_id for row in rows]


async def _test_every_day(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        (await session.get_one(AlarmReceiverAccount, ACCOUNT)).test_every_s = 86_400


async def test_the_periodic_test_is_recorded_and_an_overdue_one_reported(
    receiving: Receiving,
) -> None:
    sessions, device = receiving.street.sessions, receiving.street.terminal
    await _test_every_day(sessions)
    assert (await receiving.dialer().send(contact_id("1602"))).kind == "ACK"
    tested = (await account_row(sessions)).last_test_at
    assert tested is not None
    assert await events_of(sessions, device) == []  # a test is no alarm
    assert await _report(sessions, tested + DAY, overdue_only=True) == []
    assert await _report(sessions, tested + DAY + dt.timedelta(seconds=1), overdue_only=True) == [
        device
    ]
    assert await _report(sessions, tested, overdue_only=False) == [device]


async def test_a_panel_never_tested_is_overdue_one_period_after_it_was_registered(
    receiving: Receiving,
) -> None:
    sessions = receiving.street.sessions
    await _test_every_day(sessions)
    registered = (await account_row(sessions)).created_at
    assert await _report(sessions, registered + DAY + dt.timedelta(seconds=1), overdue_only=True)


async def test_a_failed_test_is_reported_until_a_test_passes(receiving: Receiving) -> None:
    sessions, device = receiving.street.sessions, receiving.street.terminal
    dialer = receiving.dialer()
    assert (await dialer.send(contact_id("1307"))).kind == "ACK"
    row = await account_row(sessions)
    assert (row.test_failure, row.test_failed_at is not None) == ("Self-Test Failure", True)
    assert await _report(sessions, dt.datetime.now(dt.UTC), overdue_only=True) == [device]
    assert (await dialer.send(sia("RP"))).kind == "ACK"
    row = await account_row(sessions)
    assert (row.test_failure, row.test_failed_at) == (None, None)
    assert await _report(sessions, dt.datetime.now(dt.UTC), overdue_only=True) == []


async def test_mains_and_battery_troubles_are_kept_from_their_first_report_until_restored(
    receiving: Receiving,
) -> None:
    sessions, street = receiving.street.sessions, receiving.street
    await add_account(sessions, street.terminal_2, "ABC")
    dialer = receiving.dialer(key=None, account="ABC", transport="udp")
    for report in (contact_id("1301"), contact_id("1302"), contact_id("6301")):
        assert (await dialer.send(report)).kind == "ACK"
    row = await account_row(sessions, "ABC")
    assert row.mains_lost_since is not None and row.battery_low_since is not None
    first = row.mains_lost_since
    assert (await dialer.send(contact_id("1301"))).kind == "ACK"
    assert (await account_row(sessions, "ABC")).mains_lost_since == first
    for report in (contact_id("3301"), contact_id("3302")):
        assert (await dialer.send(report)).kind == "ACK"
    row = await account_row(sessions, "ABC")
    assert (row.mains_lost_since, row.battery_low_since) == (None, None)
