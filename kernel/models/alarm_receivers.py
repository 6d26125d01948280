"""SIA DC-09 accounts: an alarm panel's account number bound to a device of the register.

An account is how a panel names itself in every DC-09 frame (`#1234`); the receiver takes its
frames as the messages of the bound device. Its AES key is kept retrievable, like a device's
secret, because the installer must program it into the panel; an account without a key takes
plain (unencrypted) frames only, and exists only where someone chose that (`--plain`).

Beside the account, what its panel last reported about itself: the periodic self-test, and the
mains and battery troubles it raised and has not yet restored.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models.base import Base, utcnow


class AlarmReceiverAccount(Base):
    """A DC-09 account (one panel) and the device it reports as."""

    __tablename__ = "alarm_receiver_accounts"

    # Upper-case hex without leading zeros, at least three digits: how the receiver reads `#acct`.
    account: Mapped[str] = mapped_column(String(16), primary_key=True)
    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), unique=True
    )
    # Hex of a 128, 192 or 256-bit AES key; None: a plain account (no encryption, no key).
    key: Mapped[str | None] = mapped_column(String(64))
    key_issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Contact ID 140 (general alarm) is a fall on panels that report their fall detector so.
    falls_as_general_alarm: Mapped[bool] = mapped_column(default=False)
    # The panel's NULL (link test) period: silent longer than this, the device is offline.
    supervision_s: Mapped[int | None]
    # How often the panel sends its periodic test (1602 / RP); None: no schedule kept.
    test_every_s: Mapped[int | None]
    last_test_at: Mapped[dt.datetime | None]
    test_failed_at: Mapped[dt.datetime | None]  # the last failed test, until one passes
    test_failure: Mapped[str | None] = mapped_column(String(64))
    mains_lost_since: Mapped[dt.datetime | None]
    battery_low_since: Mapped[dt.datetime | None]
