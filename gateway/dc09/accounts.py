"""Rules of DC-09 accounts: binding a panel's account to a device, its key, its schedules.

Like a device's secret, an account's AES key is issued here (or taken from the panel, where the
panel makes its own), kept retrievable for the installer and never logged; a rotation is
audited, and the receiver takes the new key at the first frame that does not decrypt with the
old one. A plain account is one somebody chose: `plain=True`, never a missing key by default.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from devices.ids import DeviceKind
from gateway.dc09 import repository
from gateway.dc09.frames import canonical_account
from kernel import audit
from kernel.errors import DomainError, NotFoundError
from kernel.models import AlarmReceiverAccount, Device, utcnow

# AES-128 unless the panel asks for more: what DC-09 panels commonly take, 32 hex digits.
KEY_BYTES = 16
_ACCOUNT = re.compile(r"[0-9A-Fa-f]{3,16}")
_KEY = re.compile(r"(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{48}|[0-9A-Fa-f]{64})")


class AccountRefusedError(DomainError):
    """An account that cannot be registered as asked."""

    status_code = 422
    code = "dc09_account_refused"


def issue_key() -> str:
    """A new random AES-128 key, as hex."""
    return secrets.token_hex(KEY_BYTES).upper()


def account_number(text: str) -> str:
    """A DC-09 account number as the receiver keys it, or AccountRefusedError."""
    if not _ACCOUNT.fullmatch(text.strip()):
        raise AccountRefusedError("an account number is 3 to 16 hexadecimal digits")
    return canonical_account(text.strip())


def aes_key(text: str) -> str:
    """An AES key given as hex (128, 192 or 256 bits), upper case, or AccountRefusedError."""
    key = text.strip()
    if not _KEY.fullmatch(key):
        raise AccountRefusedError("a key is 32, 48 or 64 hexadecimal digits (128, 192, 256 bits)")
    return key.upper()


async def register_account(
    session: AsyncSession,
    account: str,
    device_id: str,
    *,
    key: str | None,
    plain: bool,
    falls_as_general_alarm: bool,
    supervision_s: int | None,
    test_every_s: int | None,
    actor: str,
) -> AlarmReceiverAccount:
    """Bind a new account to an SOS terminal of the register (a key issued unless given or
    `plain`); one account a device, one device an account."""
    number = account_number(account)
    if plain and key is not None:
        raise AccountRefusedError("a plain account has no key")
    device = await session.get(Device, device_id)
    if device is None:
        raise NotFoundError(f"device {device_id} is not registered")
    if device.kind is not DeviceKind.SOS_TERMINAL:
        raise AccountRefusedError(
            f"{device_id} is a {device.kind.value}: panels report as SOS terminals"
        )
    if await repository.get_account(session, number) is not None:
        raise AccountRefusedError(f"account {number} is registered already")
    if await repository.account_of_device(session, device_id) is not None:
        raise AccountRefusedError(f"{device_id} has an account already")
    for name, value in (("supervision", supervision_s), ("test period", test_every_s)):
        if value is not None and value < 1:
            raise AccountRefusedError(f"the {name} is a number of seconds, at least 1")
    row = AlarmReceiverAccount(
        account=number,
        device_id=device_id,
        key=None if plain else (aes_key(key) if key is not None else issue_key()),
        falls_as_general_alarm=falls_as_general_alarm,
        supervision_s=supervision_s,
        test_every_s=test_every_s,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session, actor=actor, action="dc09_account_registered", subject_type="device",
        subject_id=device_id, detail={"account": number, "encrypted": row.key is not None},
    )  # fmt: skip
    return row


async def rotate_key(
    session: AsyncSession, account: str, *, key: str | None, actor: str
) -> AlarmReceiverAccount:
    """A new key for an encrypted account (the one given, or a random one)."""
    row = await repository.get_account(session, account_number(account))
    if row is None:
        raise NotFoundError(f"account {account} is not registered")
    if row.key is None:
        raise AccountRefusedError(f"account {row.account} is plain: it has no key to rotate")
    row.key = aes_key(key) if key is not None else issue_key()
    row.key_issued_at = utcnow()
    await audit.record(
        session, actor=actor, action="dc09_key_rotated", subject_type="device",
        subject_id=row.device_id, detail={"account": row.account},
    )  # fmt: skip
    return row


async def remove_account(session: AsyncSession, account: str, *, actor: str) -> str:
    """Unbind an account; its panel's frames are refused from then on. Returns its device."""
    row = await repository.get_account(session, account_number(account))
    if row is None:
        raise NotFoundError(f"account {account} is not registered")
    device_id = row.device_id
    await repository.remove_account(session, row.account)
    await audit.record(
        session, actor=actor, action="dc09_account_removed", subject_type="device",
        subject_id=device_id, detail={"account": row.account},
    )  # fmt: skip
    return device_id
