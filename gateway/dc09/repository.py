"""Queries of the DC-09 receiver: accounts, what panels report of themselves, supervision."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.dc09.schemas import AccountInfo, SelfTestRow
from kernel.database import insert_ignoring_duplicates
from kernel.models import AlarmReceiverAccount, Device, DeviceEvent, Elder, RejectedMessage

_INFO_COLUMNS = (
    AlarmReceiverAccount.account,
    AlarmReceiverAccount.device_id,
    AlarmReceiverAccount.key,
    AlarmReceiverAccount.falls_as_general_alarm,
)


def _info(row: Any) -> AccountInfo:
    account, device_id, key, falls = row
    return AccountInfo(account, device_id, None if key is None else bytes.fromhex(key), falls)


async def all_accounts(session: AsyncSession) -> list[AccountInfo]:
    """Every account as the receiver needs it (key as bytes)."""
    return [_info(row) for row in await session.execute(select(*_INFO_COLUMNS))]


async def account_info(session: AsyncSession, account: str) -> AccountInfo | None:
    """One account as the receiver needs it, or None."""
    row = (
        await session.execute(select(*_INFO_COLUMNS).where(AlarmReceiverAccount.account == account))
    ).first()
    return None if row is None else _info(row)


async def get_account(session: AsyncSession, account: str) -> AlarmReceiverAccount | None:
    """One account row, or None."""
    return await session.get(AlarmReceiverAccount, account)


async def account_of_device(session: AsyncSession, device_id: str) -> AlarmReceiverAccount | None:
    """The account bound to a device, or None."""
    return await session.scalar(
        select(AlarmReceiverAccount).where(AlarmReceiverAccount.device_id == device_id)
    )


async def list_accounts(session: AsyncSession) -> list[AlarmReceiverAccount]:
    """Every account, by account number."""
    return list(
        await session.scalars(select(AlarmReceiverAccount).order_by(AlarmReceiverAccount.account))
    )


async def remove_account(session: AsyncSession, account: str) -> bool:
    """Delete an account; False when there was none."""
    result = await session.execute(
        delete(AlarmReceiverAccount)
        .where(AlarmReceiverAccount.account == account)
        .returning(AlarmReceiverAccount.account)
    )
    return result.scalar_one_or_none() is not None


async def last_alarm_id(session: AsyncSession, device_id: str, transport: str) -> str | None:
    """The message id of the device's latest `sos` or `fall` recorded over `transport`, or None."""
    return await session.scalar(
        select(DeviceEvent.message_id)
        .where(
            DeviceEvent.device_id == device_id,
            DeviceEvent.transport == transport,
            DeviceEvent.type.in_(("sos", "fall")),
        )
        .order_by(DeviceEvent.received_at.desc(), DeviceEvent.id.desc())
        .limit(1)
    )


def record_reject(session: AsyncSession, row: dict[str, Any]) -> None:
    """Keep one refused frame for review, in the gateway's rejects."""
    session.add(RejectedMessage(**row))


async def apply_reports(session: AsyncSession, account: str, changes: dict[str, Any]) -> None:
    """Set what a panel reported of itself (each value, or `mains_lost_since`/`battery_low_since`
    kept at its first report while the trouble lasts)."""
    values = dict(changes)
    for since in ("mains_lost_since", "battery_low_since"):
        if values.get(since) is not None:
            column = getattr(AlarmReceiverAccount, since)
            values[since] = func.coalesce(column, values[since])
    await session.execute(
        update(AlarmReceiverAccount).where(AlarmReceiverAccount.account == account).values(**values)
    )


async def unsupervised(
    session: AsyncSession, now: dt.datetime, slack: dt.timedelta
) -> list[tuple[str, int | None, dt.datetime]]:
    """(device, elder, last seen) of online devices whose panel missed its supervision period."""
    rows = await session.execute(
        select(Device.id, Device.elder_id, Device.last_seen_at, AlarmReceiverAccount.supervision_s)
        .join(AlarmReceiverAccount, AlarmReceiverAccount.device_id == Device.id)
        .where(
            Device.online.is_(True),
            Device.last_seen_at.is_not(None),
            AlarmReceiverAccount.supervision_s.is_not(None),
        )
    )
    silent = []
    for device_id, elder_id, seen, period in rows:
        if (
            seen is not None
            and period is not None
            and seen + dt.timedelta(seconds=period) + slack < now
        ):
            silent.append((device_id, elder_id, seen))
    return silent


async def mark_offline(
    session: AsyncSession, silent: list[tuple[str, int | None, dt.datetime]], now: dt.datetime
) -> list[str]:
    """Take the devices offline, each with an `offline` event, unless heard since; returns them."""
    gone: list[str] = []
    for device_id, elder_id, seen in silent:
        result = await session.execute(
            update(Device)
            .where(Device.id == device_id, Device.online.is_(True), Device.last_seen_at <= seen)
            .values(online=False)
            .returning(Device.id)
        )
        if result.scalar_one_or_none() is None:
            continue  # heard from since the read
        gone.append(device_id)
        await insert_ignoring_duplicates(
            session,
            DeviceEvent.__table__,
            [
                {
                    "device_id": device_id,
                    "message_id": f"supervision@{now.isoformat()}",
                    "type": "offline",
                    "elder_id": elder_id,
                    "device_ts": None,
                    "received_at": now,
                    "transport": "dc09",
                    "payload": {"v": 1, "type": "offline", "cause": "supervision"},
                }
            ],
        )
    return gone


async def self_tests(
    session: AsyncSession, now: dt.datetime, *, overdue_only: bool
) -> list[SelfTestRow]:
    """Every panel with a test schedule or a trouble: its last test, when the next was due, and
    what it reports; `overdue_only`: only those whose test is overdue or failed."""
    rows = await session.execute(
        select(AlarmReceiverAccount, Device.online, Device.last_seen_at, Elder.id,
               Elder.community_code)
        .join(Device, Device.id == AlarmReceiverAccount.device_id)
        .outerjoin(Elder, Elder.id == Device.elder_id)
        .order_by(Elder.community_code.nulls_last(), AlarmReceiverAccount.device_id)
    )  # fmt: skip
    found = []
    for account, online, last_seen_at, elder_id, community in rows:
        due = None
        if account.test_every_s is not None:
            since = account.last_test_at or account.created_at
            due = since + dt.timedelta(seconds=account.test_every_s)
        overdue = due is not None and due < now
        if overdue_only and not (overdue or account.test_failed_at is not None):
            continue
        found.append(
            SelfTestRow(
                device_id=account.device_id,
                account=account.account,
                elder_id=elder_id,
                community_code=community,
                online=online,
                last_seen_at=last_seen_at,
                test_every_s=account.test_every_s,
                last_test_at=account.last_test_at,
                test_due_at=due,
                test_overdue=overdue,
                test_failed_at=account.test_failed_at,
                test_failure=account.test_failure,
                mains_lost_since=account.mains_lost_since,
                battery_low_since=account.battery_low_since,
            )
        )
    return found
