"""Shapes of the DC-09 receiver: an account as the receiver holds it, the self-test report."""

from __future__ import annotations

import dataclasses
import datetime as dt

from pydantic import BaseModel, ConfigDict


@dataclasses.dataclass(frozen=True, slots=True)
class AccountInfo:
    """What the receiver must know of an account to take its frames."""

    account: str
    device_id: str
    key: bytes | None = dataclasses.field(repr=False)  # None: a plain account
    falls_as_general_alarm: bool


class SelfTestRow(BaseModel):
    """A panel's periodic self-test and the troubles it reports, for maintenance."""

    model_config = ConfigDict(frozen=True)

    device_id: str
    account: str
    elder_id: int | None
    community_code: str | None
    online: bool
    last_seen_at: dt.datetime | None
    test_every_s: int | None  # None: no schedule kept for this panel
    last_test_at: dt.datetime | None
    test_due_at: dt.datetime | None  # when the next periodic test was due
    test_overdue: bool
    test_failed_at: dt.datetime | None  # its last failed test, until one passes
    test_failure: str | None  # the standard's name of the failure it reported
    mains_lost_since: dt.datetime | None
    battery_low_since: dt.datetime | None
